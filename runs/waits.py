"""Waits: how a waiting run gets what it waits for, and how runs are handed to workers.

A step that must wait (an approval, a timer, a child run, a person settling an in-doubt tool call)
records itself as waiting and parks its run (runs.engine.parking). Whatever resolves the wait — a
decision, a timer's task, a child run's end, a person — calls `wait_deliver` with the step's
outcome: the step completes with it and the run is queued again, in one transaction, so a wait is
resolved at most once and never without its run moving on. On resume the engine reads the outcome
from its own journal, like any finished step; it knows nothing of who delivered it (the
send/receive of durable workflow engines).

A kind of wait owned by an app above the engine (approvals) registers a `WaitKind` here, from its
AppConfig.ready(): the engine opens it in the transaction that parks the run, a cancelled run
cancels it, the sweeper expires it, and the run pages describe it. The engine imports nothing of
that app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from agentops.taskqueue import enqueue

from .errors import RunFailure
from .models import Run, RunStatus, Step, StepKind, StepStatus, WaitingReason

# Handing runs to workers -----------------------------------------------------------------------


def run_enqueue(run_id) -> None:
    """Hand the run to a worker when the current transaction commits (see taskqueue.enqueue)."""
    # save=False: the run's journal is its record; a django-q2 result row per task would only
    # cost writes (and pruning) on every run.
    enqueue("runs.tasks.execute_run", str(run_id), task_name=f"run {run_id}", save=False)


def run_resume(*, run_id) -> bool:
    """Wake a waiting run: waiting → queued, enqueued. Returns False, doing nothing, unless the
    run was waiting. A run woken before its wait is resolved finds the step still waiting and
    parks again: waking is always safe, delivering (`wait_deliver`) is what resolves a wait."""
    return _wake(Run.objects.filter(pk=run_id, status=RunStatus.WAITING), run_id)


def _wake(waiting, run_id) -> bool:
    woken = waiting.update(status=RunStatus.QUEUED, waiting_reason="", wake_at=None, updated_at=timezone.now())
    if woken:
        run_enqueue(run_id)
    return bool(woken)


# Delivering outcomes ---------------------------------------------------------------------------


def wait_deliver(*, run_id, seq: int, output=None, error=None, status: str = StepStatus.COMPLETED,
                 waiting: tuple[str, ...] = (StepStatus.WAITING,)) -> bool:
    """Resolve the run's waiting step `seq`: it takes `status` (completed, failed, or started
    again for a retry) with `output` and `error`, and the run is queued, in one transaction.

    A compare-and-swap on the step's status (one of `waiting`): a second delivery, or one to a
    step that is not waiting, changes nothing and returns False.
    """
    finished_at = None if status == StepStatus.STARTED else timezone.now()
    with transaction.atomic(savepoint=False):  # inside a caller's transaction, its failure undoes this too
        delivered = Step.objects.filter(run_id=run_id, seq=seq, status__in=waiting).update(
            status=status, output=output, error=error, finished_at=finished_at)
        if delivered:
            run_resume(run_id=run_id)
    return bool(delivered)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What an approval step receives: the decision, and the arguments it allows."""

    approved: bool
    arguments: dict | None
    comment: str
    decided_by: str | None
    status: str
    request: str | None = None  # the approval request's id, for pages to link

    @classmethod
    def from_output(cls, output: dict) -> "ApprovalOutcome":
        return cls(**{key: output.get(key) for key in cls.__dataclass_fields__})


def timer_schedule(run_id, wake_at: datetime) -> None:
    """Have the run's timer fire at `wake_at` through a task the queue holds until then; with a
    broker that cannot hold tasks, the sweeper fires it."""
    enqueue("runs.tasks.fire_timer", str(run_id), at=wake_at, task_name=f"timer {run_id}", save=False)


def timer_fire(*, run_id, now=None) -> bool:
    """Deliver a due timer to the sleep step the run waits on. The timer's own task and the
    sweeper both call this; whichever comes second does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Run.objects.filter(pk=run_id, status=RunStatus.WAITING, waiting_reason=WaitingReason.TIMER,
                                 wake_at__lte=now).exists()
        seq = Step.objects.filter(run_id=run_id, kind=StepKind.SLEEP, status=StepStatus.WAITING).values_list(
            "seq", flat=True).first() if due else None
        if seq is None:
            return False
        output = Step.objects.filter(run_id=run_id, seq=seq).values_list("output", flat=True).get()
        return wait_deliver(run_id=run_id, seq=seq, output={**(output or {}), "fired_at": now.isoformat()})


# Kinds of wait owned by other apps --------------------------------------------------------------


@dataclass(frozen=True)
class WaitView:
    """How a page shows and links one wait."""

    title: str
    url: str
    status: str
    status_label: str


@dataclass(frozen=True)
class WaitAges:
    open: int
    oldest: timedelta | None  # None when none is open
    median: timedelta | None


@dataclass(frozen=True)
class ResolutionTimes:
    resolved: int
    p50: timedelta | None  # None when none was resolved
    p95: timedelta | None


class WaitKind(Protocol):
    """What an app that owns a kind of wait provides. Every method runs in the caller's transaction."""

    def open(self, *, run: Run, seq: int, request: dict) -> dict:
        """Create what resolves the wait for step `seq`; returns a reference recorded on the step."""

    def cancel(self, *, run: Run) -> int:
        """The run is being cancelled: withdraw its open waits of this kind; returns how many."""

    def expire_due(self, *, now: datetime) -> int:
        """Apply expiry policy to overdue waits (the sweeper); returns how many were acted on."""

    def describe(self, *, run: Run, seqs: list[int] | None) -> dict[int, WaitView]:
        """{step seq: view} for the run's waits at `seqs` (None: the open ones)."""

    def open_count(self, *, tenant_id) -> int:
        """The tenant's waits of this kind still open."""

    def open_ages(self, *, tenant_id, now: datetime) -> WaitAges:
        """How many of the tenant's waits of this kind are open and how long they have waited."""

    def resolution_times(self, *, tenant_id, since: datetime) -> ResolutionTimes:
        """How long the waits resolved by a person since `since` took (p50, p95)."""

    def decide_scripted(self, *, run: Run, seq: int, decision: dict) -> bool:
        """Resolve the open wait at step `seq` by a decision written in advance (an eval case's
        `{"decision": "approve"|"reject", "arguments"?, "comment"?}`), with no person involved;
        returns False when nothing is open there."""

    def api_objects(self, *, run: Run, seqs: list[int]) -> dict[int, dict]:
        """{step seq: the API's object for the wait at that step} (the run event stream's)."""


_KINDS: dict[str, WaitKind] = {}


def wait_kind_register(name: str, kind: WaitKind) -> None:
    _KINDS[name] = kind


def wait_kind(name: str) -> WaitKind | None:
    return _KINDS.get(name)


def wait_kind_required(name: str) -> WaitKind:
    """The registered kind, or a run failure that says which app is missing."""
    kind = _KINDS.get(name)
    if kind is None:
        raise RunFailure("wait_kind_unavailable", f"no app handles {name!r} waits in this process")
    return kind


def wait_kinds() -> list[WaitKind]:
    return list(_KINDS.values())

