"""`ctx.sleep`: short pauses keep the worker; longer ones park the run until its timer fires."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ...models import StepKind, StepStatus, WaitingReason
from ..parking import suspend, wait_begin


def sleep(ctx, seconds: float) -> None:
    journal = ctx.journal
    seq, recorded = journal.next(StepKind.SLEEP, "sleep")
    if recorded is not None and recorded.status == StepStatus.COMPLETED:
        return
    if recorded is None:
        wake_at = timezone.now() + timedelta(seconds=seconds)
        step = {"input": {"seconds": seconds}, "output": {"wake_at": wake_at.isoformat()}}
        if seconds > settings.RUN_INLINE_SLEEP_SECONDS:
            wait_begin(journal, seq, StepKind.SLEEP, "sleep", WaitingReason.TIMER, wake_at=wake_at, **step)
        entry = journal.insert(seq, StepKind.SLEEP, "sleep", StepStatus.WAITING, finished=False, **step)
        with ctx.lease.keepalive():
            time.sleep(seconds)
        journal.update(entry, status=StepStatus.COMPLETED)
        return
    # Woken before the timer delivered (its task was lost, or the run was resumed by hand):
    # a due timer completes here, an early one parks again.
    wake_at = datetime.fromisoformat(recorded.output["wake_at"])
    if timezone.now() < wake_at:
        suspend(journal, WaitingReason.TIMER, wake_at=wake_at)
    journal.update(recorded, status=StepStatus.COMPLETED)
