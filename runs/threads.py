"""One run at a time per thread: a run waits its turn (`waiting`, reason `thread`) while another
run of its thread is active, and the thread's next run is woken when the active one ends.

Every function here runs inside the caller's transaction with the thread's row locked
(agentops.memory.threads.thread_lock), so that a run starting and a run ending in the same thread
are serialised: the one that ends either sees the new run waiting and wakes it, or has committed
its end before the new one looks and lets it start at once. If a worker dies before the end commits,
the run is recovered and ends later; `threads_wake_stranded` (the sweeper) wakes any run left
waiting behind a thread with nothing active, so a turn is never lost.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q

from agentops.memory.threads import thread_lock, thread_prompt_tokens_set

from .models import Run, RunStatus, WaitingReason
from .waits import run_resume

WAITING_ITS_TURN = Q(status=RunStatus.WAITING, waiting_reason=WaitingReason.THREAD)
ACTIVE = Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]) | (Q(status=RunStatus.WAITING) & ~WAITING_ITS_TURN)


def thread_active_runs(thread_id, *, exclude=None):
    """The thread's runs that hold its turn (queued, running, or waiting on anything but the thread)."""
    runs = Run.objects.filter(ACTIVE, thread_ref_id=thread_id)
    return runs.exclude(pk=exclude) if exclude is not None else runs


def thread_waiting_runs(thread_id):
    return Run.objects.filter(WAITING_ITS_TURN, thread_ref_id=thread_id).order_by("created_at")


def thread_next_start(thread_id) -> bool:
    """Wake the oldest run waiting its turn, unless a run of the thread is active (thread locked)."""
    if thread_active_runs(thread_id).exists():
        return False
    next_id = thread_waiting_runs(thread_id).values_list("pk", flat=True).first()
    return next_id is not None and run_resume(run_id=next_id)


def thread_run_ended(run: Run, *, prompt_tokens: int | None = None) -> None:
    """A run of a thread ended (caller's transaction): keep the prompt size its last main model
    call reported, and hand the thread to the next run."""
    if thread_lock(run.thread_ref_id) is None:
        return
    if prompt_tokens:
        thread_prompt_tokens_set(thread_id=run.thread_ref_id, tokens=prompt_tokens)
    thread_next_start(run.thread_ref_id)


def threads_wake_stranded() -> int:
    """Wake the next run of every thread where runs wait their turn and none is active (a lost
    hand-off); returns how many were woken. A few indexed reads when no run waits."""
    thread_ids = set(Run.objects.filter(WAITING_ITS_TURN).values_list("thread_ref_id", flat=True))
    woken = 0
    for thread_id in thread_ids:
        with transaction.atomic():
            if thread_lock(thread_id) is not None:
                woken += thread_next_start(thread_id)
    return woken


# A thread's history as a run starts with it: at most this many of the latest turns after the
# summary (past the context budget they are summarised anyway).
MAX_HISTORY_TURNS = 50


def thread_history_read(run: Run) -> dict:
    """The summary of the run's thread and the turns it does not cover, oldest first: the user
    message and final answer of each earlier run of the thread that succeeded."""
    thread = run.thread_ref
    earlier = (Run.objects.filter(thread_ref_id=thread.pk, status=RunStatus.SUCCEEDED, created_at__lt=run.created_at)
               .order_by("-created_at").values_list("pk", "input", "output")[:MAX_HISTORY_TURNS])
    turns = []
    for run_id, run_input, output in earlier:
        if run_id == thread.summary_through_run:
            break  # it and the turns before it are in the summary
        turns.append({"run": str(run_id), "user": _said(run_input, "message"), "assistant": _said(output, "answer")})
    return {"summary": thread.summary, "summary_turns": thread.summary_turns,
            "last_prompt_tokens": thread.last_prompt_tokens, "turns": turns[::-1]}


def _said(value, key: str) -> str:
    if isinstance(value, dict) and isinstance(value.get(key), str):
        return value[key]
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
