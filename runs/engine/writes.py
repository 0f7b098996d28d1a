"""What one execution writes, prepared before its transaction and applied inside it.

On SQLite the time inside a write transaction is time every other writer waits, so each write
is built here first — its rows encoded, its blobs packed, its audit events encoded but for their
time and signature, its statements' values adapted — and `apply()` then only runs statements.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from agentops import db
from agentops.audit.services import PreparedEvent, audit_append_all

from .. import store
from ..journal import BlobWriter, JournalEntry
from ..models import Run


@dataclass(slots=True)  # not frozen: one is made per step, and a frozen dataclass is slower to make
class NewStep:
    row: tuple  # its values, from store.step_row
    entry: JournalEntry
    blobs: BlobWriter
    event: PreparedEvent | None = None  # its audit event, appended in the step's transaction
    usage: dict | None = None  # a model call's counters: model_calls, tokens_in, tokens_out, cost
    tool_error: bool = False  # a tool call that ended in an error: counted on the run (Run.tool_errors)


def total_usage(steps: list[NewStep]) -> dict | None:
    """The summed counters of the model calls among `steps` (None if there is none)."""
    usages = [new.usage for new in steps if new.usage]
    return {key: sum(usage[key] for usage in usages) for key in usages[0]} if usages else None


def run_counters(usage: dict) -> dict:
    """The part of a usage the run itself counts."""
    return {key: usage[key] for key in ("tokens_in", "tokens_out", "cost")}


def run_additions(steps: list[NewStep]) -> dict | None:
    """What `steps` add to the run's counters: their model usage and their failed tool calls."""
    usage = total_usage(steps)
    add = run_counters(usage) if usage else {}
    tool_errors = sum(new.tool_error for new in steps)
    if tool_errors:
        add["tool_errors"] = tool_errors
    return add or None


class StepsWrite:
    """New steps with what belongs to them: their blobs, their audit events and `events` (one
    INSERT, pending: the sequencer chains them), their model usage on the day's counters and, unless
    the run's release adds them (`usage_on_run=False`), their usage and failed tool calls on the run."""

    def __init__(self, run: Run, steps: list[NewStep], *, events=(), usage_on_run=True):
        self.steps = steps
        self.events = [*(new.event for new in steps if new.event is not None), *events]
        usage, add = total_usage(steps), run_additions(steps)
        self.run_counters = (store.run_counters_add(run_id=run.pk, step_count=steps[-1].entry.seq, add=add)
                             if add and usage_on_run else None)
        self.daily_usage = (store.DailyUsageAdd(tenant_id=run.tenant_id, agent_id=run.agent_id, counters=usage)
                            if usage else None)

    def apply(self) -> None:
        alone = len(self.steps) == 1 and not (self.events or self.daily_usage or self.run_counters)
        only = self.steps[0] if alone else None
        if only is not None and not only.blobs.pending.keys() - only.blobs.stored:
            store.steps_insert([only.row])  # one statement: its own transaction in autocommit mode
            return
        with transaction.atomic(savepoint=False):
            for new in self.steps:
                new.blobs.flush()
            if self.steps:
                store.steps_insert([new.row for new in self.steps])
            if self.run_counters:
                self.run_counters.run()
            if self.daily_usage:
                self.daily_usage.run()
            if self.events:
                audit_append_all(self.events)


@dataclass(frozen=True)
class Release:
    """The run's release (a compare and swap on the lease) and what is written with it."""

    release: db.Statement
    steps: StepsWrite | None

    def apply(self) -> bool:
        """Inside a transaction: False, writing nothing, if another worker holds the run now."""
        if self.release.run() != 1:
            return False
        if self.steps is not None:
            self.steps.apply()
        return True
