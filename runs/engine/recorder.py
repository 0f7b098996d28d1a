"""The journal as one execution sees it: sequence numbers, replay, and the batching of writes.

Every ctx call takes the next sequence number (`next`). When the journal already holds a finished
step at that number, the call returns (or raises) what was recorded and does nothing else; when
the recorded step is of another kind or name, the run fails with a non-determinism error. New steps
are written with as few statements as their semantics allow:

- code and model steps: one INSERT when they finish (a crash before it simply repeats them);
- tool steps: an INSERT `started` before the call and an UPDATE after it, so that a crash in
  between is seen on replay (idempotent tools are retried with the same key, others go in doubt).
  A tool declared read-only and idempotent has no side effect to protect: one INSERT after it;
- repeatable steps — model calls, read-only idempotent tool calls, `ctx.read_step` — are not
  committed on their own: their rows wait in memory (`defer=True`) and go into the next
  transaction the run makes. That is always before anything with an effect outside the run starts
  (a code step, a tool call that may write, a wait, a child run, the run's end), before a second
  model call, and at the latest after `RUN_DEFER_SECONDS`. A crash therefore repeats at most the
  latest model call and the reads after it, never a side effect, and never a step anything
  durable depends on; an agent turn costs one durable commit instead of one per step.
"""

from __future__ import annotations

import time
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction

from agentops.logs import log_step

from .. import live, store
from ..errors import NonDeterminismError, RunFailure
from ..journal import BlobWriter, JournalEntry, blob_threshold
from ..models import Run, StepKind, StepStatus
from . import parking
from .lease import Lease
from .writes import NewStep, Release, StepsWrite, run_additions

FINISHED = (StepStatus.COMPLETED, StepStatus.FAILED)


def utc_now() -> datetime:
    """timezone.now() as it is with USE_TZ, always on here, without reading the setting: a step
    takes two timestamps, and a setting costs more to read than the clock."""
    return datetime.now(dt_timezone.utc)


class StepRecorder:
    def __init__(self, run: Run, *, lease: Lease, journal: dict[int, JournalEntry], started: float):
        self.run = run
        self.run_id = run.pk
        self.run_key = str(run.pk)  # for live notices
        self.version = run.agent_version
        self.lease = lease
        self.recorded = journal
        self.seq = 0
        self.written = max(journal, default=0)  # the highest seq durably written
        self.started = started  # time.monotonic() when this execution began
        # Read once per execution: every step checks them, and settings are slow to read.
        self.defer_seconds = settings.RUN_DEFER_SECONDS
        self.slice_ends = started + settings.RUN_SLICE_SECONDS
        self.blob_threshold = blob_threshold()
        self.blobs_stored: set[str] = set()  # blobs this execution wrote (see BlobWriter)
        self.deferred: list[NewStep] = []  # repeatable steps not written yet
        self.deferred_since = 0.0

    # -- sequence and replay ----------------------------------------------------------------

    def next(self, kind: str, name: str) -> tuple[int, JournalEntry | None]:
        """Allocate the next seq; return the recorded step there, if any, after checking it
        matches. Before new work, limits and ownership are checked (replayed steps are free)."""
        self.seq += 1
        seq = self.seq
        log_step(seq)
        recorded = self.recorded.get(seq)
        if recorded is not None:
            if (recorded.kind, recorded.name) != (kind, name):
                raise NonDeterminismError(seq, (recorded.kind, recorded.name), (kind, name))
            if recorded.status in FINISHED:
                return seq, recorded
        self._before_new_work(seq, recorded)
        return seq, recorded

    def upcoming(self) -> JournalEntry | None:
        """The recorded step the next call will meet, if any."""
        return self.recorded.get(self.seq + 1)

    def _before_new_work(self, seq: int, recorded: JournalEntry | None) -> None:
        self.lease.check()
        now = time.monotonic()
        if self.deferred and now - self.deferred_since > self.defer_seconds:
            self.write_deferred()
        if now > self.slice_ends:
            parking.requeue(self)
        version = self.version
        if recorded is None and seq > version.max_steps:
            raise RunFailure("max_steps_exceeded", f"the run reached its limit of {version.max_steps} steps")
        if self.run.active_seconds + (now - self.started) > version.timeout_seconds:
            raise RunFailure("deadline_exceeded",
                             f"the run executed for longer than its {version.timeout_seconds} s timeout")

    def active_seconds(self) -> float:
        return self.run.active_seconds + (time.monotonic() - self.started)

    def deadline(self) -> float:
        """The run's deadline as a time.monotonic() value, for per-call timeouts."""
        return time.monotonic() + max(0.0, self.version.timeout_seconds - self.active_seconds())

    # -- writing ----------------------------------------------------------------------------

    def insert(self, seq: int, kind: str, name: str, status: str, *, defer=False, **step) -> JournalEntry:
        """Write a new step (alone, or in the caller's transaction) or defer it; see new_step."""
        return self.write(self.new_step(seq, kind, name, status, **step), defer=defer)

    def new_step(self, seq: int, kind: str, name: str, status: str, *, input=None, output=None, error=None,
                 started_at=None, finished=True, blobs: BlobWriter | None = None, pack_input=True, event=None,
                 usage=None, tool_error=False, **fields) -> NewStep:
        """A step ready to write: large payloads packed into blobs, every value encoded. A
        `tool_error` (a tool call that ended in an error) is counted on the run with it."""
        blobs = blobs or BlobWriter(self.blobs_stored, threshold=self.blob_threshold)
        now = utc_now()
        row = store.step_row(run_id=self.run_id, seq=seq, kind=kind, name=name, status=status,
                             input=blobs.pack_column(input) if pack_input else input,
                             output=blobs.pack_column(output), error=error, started_at=started_at or now,
                             finished_at=now if finished else None, **fields)
        entry = JournalEntry(seq, kind, name, status, output, error, fields.get("attempt", 1))
        return NewStep(row, entry, blobs, event, usage, tool_error)

    def write(self, new: NewStep, *, defer=False) -> JournalEntry:
        """Write `new` after the deferred steps, in one transaction with them; or, if it is
        repeatable (`defer`), keep it for the next write."""
        self.recorded[new.entry.seq] = new.entry
        if defer and self.defer_seconds > 0:
            if not self.deferred:
                self.deferred_since = time.monotonic()
            self.deferred.append(new)
        else:
            self._write_steps([*self._take_deferred(), new])
        return new.entry

    def write_deferred(self) -> None:
        """Write the repeatable steps kept in memory, before something depends on them."""
        if self.deferred:
            self._write_steps(self._take_deferred())

    def defers_model_call(self) -> bool:
        return any(new.entry.kind == StepKind.LLM for new in self.deferred)

    def _take_deferred(self) -> list[NewStep]:
        steps, self.deferred = self.deferred, []
        return steps

    def _write_steps(self, steps: list[NewStep]) -> None:
        StepsWrite(self.run, steps).apply()
        self.written = max(self.written, steps[-1].entry.seq)
        self.notify(self.written)

    def update(self, step: JournalEntry, **fields) -> None:
        """Change a written step (after the deferred ones, in one transaction with them)."""
        blobs = BlobWriter(self.blobs_stored, threshold=self.blob_threshold)
        fields.setdefault("finished_at", utc_now())
        unpacked = {key: fields[key] for key in ("input", "output") if key in fields}
        for key in unpacked:
            fields[key] = blobs.pack(fields[key])
        with transaction.atomic():
            self.write_deferred()
            blobs.flush()
            store.step_update(run_id=self.run_id, seq=step.seq, **fields)
        for key, value in {**fields, **unpacked}.items():
            if key in JournalEntry.__slots__:
                setattr(step, key, value)
        self.notify(step.seq)

    def release(self, *, events=(), **changes) -> Release:
        """Giving up the lease with `changes` and this execution's totals, the deferred steps and
        `events` (audit) written with it, or dropped if another worker holds the run now:
        prepared here, to `apply()` inside a transaction."""
        deferred = self._take_deferred()
        self.written = max(self.written, deferred[-1].entry.seq if deferred else 0)
        release = store.run_release(run_id=self.run_id, owner=self.lease.owner, step_count=self.written,
                                    active_seconds=self.active_seconds(), updated_at=utc_now(),
                                    add=run_additions(deferred), **changes)
        return Release(release, StepsWrite(self.run, deferred, events=events, usage_on_run=False)
                       if deferred or events else None)

    def notify(self, seq: int) -> None:
        """Tell live viewers (after the step's transaction commits; a no-op without listeners)."""
        live.notify_run_changed(self.run_key, seq)
