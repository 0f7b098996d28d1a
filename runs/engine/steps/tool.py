"""`ctx.tool`: a call through the tool gateway, recorded so that a crash never repeats a side effect.

A call that may write is recorded `started` before it is made. A step found `started` on replay
means a worker died during the call: an idempotent tool is called again with the same
idempotency key; any other goes in doubt and waits for a person (runs.services.step_resolve_in_doubt
delivers their choice). A call the gateway ends `ToolOutcomeUnknown` (a tool that is not idempotent
timed out after sending, lost its connection or answered 5xx) goes in doubt the same way, its error
saying why (`tool_outcome_unknown`) and listing the earlier attempts. A read-only idempotent call
has nothing to protect: it is journaled once, after the call, with the run's next write.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agentops.audit.services import Actor, audit_append, audit_prepare, audit_record
from tools.errors import ToolError, ToolFailed, ToolOutcomeUnknown, ToolRefused
from tools.gateway import tool_execute, tool_refusal_audit
from tools.models import Effect, name_from_wire

from ... import store
from ...errors import Suspend
from ...journal import JournalEntry
from ...models import StepKind, StepStatus, WaitingReason
from ..parking import park, suspend
from .approval import tool_approval


def tool_call(ctx, name: str, arguments):
    """Call a registered tool; returns its result or raises ToolError. Refusals (unknown, not
    granted, no permission, invalid arguments) and rejections are journaled and raised too."""
    name = name_from_wire(name)  # models see "billing__refund"; the journal and people see "billing.refund"
    upcoming = ctx.journal.upcoming()
    prepared = None
    if upcoming is None:  # a new call: the gateway decides whether it may run and if it needs approval
        try:
            prepared = ctx.tool_session.prepare(name, arguments)
        except ToolRefused as refusal:
            seq, _ = ctx.journal.next(StepKind.TOOL, name)
            _refuse(ctx, seq, name, arguments, refusal)
        if prepared.approval is not None:
            arguments, prepared = tool_approval(ctx, name, prepared), None  # approved arguments: check again
    elif upcoming.kind == StepKind.APPROVAL and upcoming.name == name:
        arguments = tool_approval(ctx, name, None)
    seq, recorded = ctx.journal.next(StepKind.TOOL, name)
    if recorded is not None and recorded.status == StepStatus.COMPLETED:
        ctx.findings.append({"tool": name, "result": recorded.output})
        return recorded.output
    if recorded is not None and recorded.status == StepStatus.FAILED:
        error = recorded.error or {}
        raise ToolError(error.get("message", ""), code=error.get("code", "tool_error"))
    return _execute(ctx, seq, name, arguments, recorded, prepared)


def _execute(ctx, seq, name, arguments, recorded: JournalEntry | None, prepared=None):
    """Execute the call (`prepared` when the gateway just checked it, else checked here)."""
    try:
        prepared = prepared or ctx.tool_session.prepare(name, arguments)
    except ToolRefused as refusal:
        if recorded is None:
            _refuse(ctx, seq, name, arguments, refusal)
        raise ToolError(refusal.message, code=refusal.code) from refusal
    idempotency_key = f"{ctx.run.pk}:{seq}"
    step_input = {"arguments": prepared.arguments, "idempotency_key": idempotency_key}
    started_at = timezone.now()
    journal_after = recorded is None and prepared.tool.effect == Effect.READ and prepared.tool.idempotent
    step = None if journal_after else _claim(ctx, seq, name, step_input, prepared, recorded)
    retries: list[dict] = []
    try:
        with ctx.lease.keepalive():
            result = tool_execute(prepared=prepared, idempotency_key=idempotency_key, deadline=ctx.journal.deadline(),
                                  on_retry=lambda n, exc, delay: retries.append(
                                      {"attempt": n, "error": str(exc), "delay": round(delay, 3)}))
    except ToolOutcomeUnknown as unknown:  # only for a tool that is not idempotent: `step` was claimed
        _park_in_doubt(ctx, seq, name, step, {"code": unknown.code, "message": unknown.message,
                                              "status": unknown.status, "attempts": retries})
    except ToolFailed as failure:
        error = {"code": failure.code, "message": failure.message, "retryable": failure.retryable}
        if retries:
            error["attempts"] = retries
        _record_end(ctx, seq, name, step, step_input, started_at, _event(ctx, name, seq, prepared, error=error),
                    status=StepStatus.FAILED, error=error)
        raise ToolError(failure.message, code=failure.code) from failure
    result = json.loads(json.dumps(result, cls=DjangoJSONEncoder))  # replay returns exactly this
    event = _event(ctx, name, seq, prepared, result_summary=_summary(result))
    _record_end(ctx, seq, name, step, step_input, started_at, event, status=StepStatus.COMPLETED, output=result,
                error={"retries": retries} if retries else None)
    ctx.findings.append({"tool": name, "result": result})
    return result


def _record_end(ctx, seq, name, step: JournalEntry | None, step_input, started_at, event, *, status,
                output=None, error=None) -> None:
    """The call's outcome, its audit event and, for a failure, the run's count of them
    (Run.tool_errors), in one transaction (the event prepared before it)."""
    failed = status == StepStatus.FAILED
    if step is None:  # a read-only idempotent call: repeatable
        ctx.journal.insert(seq, StepKind.TOOL, name, status, input=step_input, output=output, error=error,
                           started_at=started_at, event=event, defer=True, tool_error=failed)
    else:
        with transaction.atomic():
            ctx.journal.update(step, status=status, output=output, error=error)
            audit_append(event)
            if failed:
                store.run_tool_errors_add(run_id=ctx.run.pk)


def _refuse(ctx, seq, name, arguments, refusal: ToolRefused):
    error = {"code": refusal.code, "message": refusal.message}
    with transaction.atomic():
        ctx.journal.insert(seq, StepKind.TOOL, name, StepStatus.FAILED, input={"arguments": arguments}, error=error,
                           tool_error=True)
        tool_refusal_audit(run=ctx.run, name=name, refusal=refusal)
    raise ToolError(refusal.message, code=refusal.code)


def _claim(ctx, seq, name, step_input, prepared, recorded: JournalEntry | None) -> JournalEntry:
    """Record the call as started before it runs; or, for a call found started, decide whether it
    may be made again (see the module docstring)."""
    journal = ctx.journal
    if recorded is None:
        return journal.insert(seq, StepKind.TOOL, name, StepStatus.STARTED, input=step_input, finished=False)
    retry_ordered = (recorded.error or {}).get("resolution") == "retry"
    if recorded.status == StepStatus.STARTED and (prepared.tool.idempotent or retry_ordered):
        journal.update(recorded, attempt=recorded.attempt + 1, finished_at=None, error=None)
        return recorded
    if recorded.status == StepStatus.IN_DOUBT:  # still in doubt after a wake-up: wait again
        suspend(journal, WaitingReason.IN_DOUBT, waiting=StepStatus.IN_DOUBT)
    _park_in_doubt(ctx, seq, name, recorded, {
        "code": "in_doubt",
        "message": f"the worker stopped while {name} was running and the tool is not idempotent: "
                   "it may or may not have taken effect. Retry it, mark it done or fail it.",
    })


def _park_in_doubt(ctx, seq, name, step: JournalEntry, error: dict):
    """The call may or may not have taken effect: the step waits in doubt for a person, with
    `error` saying why, and the run parks, in one transaction."""
    with transaction.atomic():
        ctx.journal.update(step, status=StepStatus.IN_DOUBT, finished_at=None, error=error)
        audit_record(tenant=ctx.tenant, action="tool.in_doubt", actor=Actor.for_run(ctx.run),
                     target=ctx.run, data={"tool": name, "seq": seq, "code": error["code"]})
        park(ctx.journal, WaitingReason.IN_DOUBT)
    raise Suspend()


def _event(ctx, name, seq, prepared, **data):
    return audit_prepare(tenant=ctx.tenant, action="tool.called", actor=Actor.for_run(ctx.run), target=ctx.run,
                         data={"tool": name, "seq": seq, "arguments": prepared.arguments, **data})


def _summary(result) -> str:
    text = json.dumps(result, cls=DjangoJSONEncoder, ensure_ascii=False)
    return text if len(text) <= 500 else text[:500] + "…"
