"""Parking a run: it waits (the worker is freed) until what it waits for is delivered.

A waiting step, whatever resolves it and the run's move to `waiting` are one transaction, so
nothing can resolve the wait before the run is parked; then `Suspend` unwinds the workflow. The
outcome arrives through runs.waits.wait_deliver, which also queues the run again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from django.db import transaction

from .. import store
from ..errors import LeaseLost, Suspend
from ..models import RunStatus, StepStatus
from ..waits import run_enqueue, run_resume, timer_schedule


def wait_begin(recorder, seq: int, kind: str, name: str, reason: str, *, input: dict,
               output: dict | None = None, open: Callable[[], dict] | None = None,
               wake_at: datetime | None = None):
    """Record step `seq` as waiting, open what will resolve it (`open()` returns what the step
    records of it, such as a request's id) and park the run, in one transaction; then unwind."""
    with transaction.atomic():
        if open is not None:
            output = {**(output or {}), **open()}
        recorder.insert(seq, kind, name, StepStatus.WAITING, input=input, output=output, finished=False)
        park(recorder, reason, wake_at=wake_at)
    recorder.notify(seq)
    raise Suspend()


def suspend(recorder, reason: str, *, wake_at: datetime | None = None, waiting: str = StepStatus.WAITING):
    """Park again on the wait of the current step, recorded earlier (the run was woken before its
    outcome arrived). An outcome delivered since this execution read the journal found the run
    running, so it could not wake it: seen here, inside the parking transaction, it wakes the run
    at once, and no delivery is ever left unanswered."""
    with transaction.atomic():
        park(recorder, reason, wake_at=wake_at)
        if store.step_status(run_id=recorder.run.pk, seq=recorder.seq) != waiting:
            run_resume(run_id=recorder.run.pk)
    recorder.notify(recorder.written)
    raise Suspend()


def park(recorder, reason: str, *, wake_at: datetime | None = None) -> None:
    """Move the run to waiting and release the lease; call inside the wait's transaction."""
    if not recorder.release(status=RunStatus.WAITING, waiting_reason=reason, wake_at=wake_at).apply():
        raise LeaseLost()
    if wake_at is not None:
        timer_schedule(recorder.run.pk, wake_at)


def requeue(recorder):
    """Give the worker back after a long slice: the run goes to the end of the queue."""
    with transaction.atomic():
        if not recorder.release(status=RunStatus.QUEUED).apply():
            raise LeaseLost()
        run_enqueue(recorder.run.pk)
    raise Suspend()
