"""`ctx.approval` and the approval before a gated tool call: the run waits for a human decision.

The engine knows the wait, not the inbox: it opens the wait through the `approval` wait kind
(registered by the approvals app, see runs.waits) in the transaction that parks the run, and on
resume reads the decision that was delivered to its step.
"""

from __future__ import annotations

from tools.errors import ToolError

from ...budgets import BudgetUse
from ...errors import RunFailure
from ...journal import JournalEntry
from ...models import StepKind, StepStatus, WaitingReason
from ...waits import ApprovalOutcome, wait_kind_required
from ..parking import suspend, wait_begin


def approval(ctx, title: str, *, arguments: dict | None, context: dict | None, risk: str, required_approvals: int,
             expires_in_seconds: int | None, expiry_action: str) -> ApprovalOutcome:
    seq, recorded = ctx.journal.next(StepKind.APPROVAL, title)
    if recorded is None:
        _open(ctx, seq, title, input={"arguments": arguments or {}, "context": context or {}}, request={
            "title": title, "proposed_arguments": arguments or {},
            "context": {**approval_context(ctx, ""), **(context or {})}, "risk": risk,
            "required_approvals": required_approvals, "expires_in_seconds": expires_in_seconds,
            "expiry_action": expiry_action,
        })
    return _outcome(ctx, seq)


def tool_approval(ctx, name: str, prepared) -> dict:
    """The approval step before a gated call: returns the approved arguments or raises ToolError."""
    seq, recorded = ctx.journal.next(StepKind.APPROVAL, name)
    if recorded is None:
        need = prepared.approval
        _open(ctx, seq, name, input={"arguments": prepared.arguments, "reason": need.reason, "risk": need.risk},
              request={
                  "title": f"{ctx.run.agent.name} wants to call {name}", "tool_name": name,
                  "proposed_arguments": prepared.arguments, "context": approval_context(ctx, need.reason),
                  "risk": need.risk, "required_approvals": need.required_approvals,
                  "approver_group_id": need.approver_group_id, "escalation_group_id": need.escalation_group_id,
                  "expires_in_seconds": need.expires_in_seconds, "expiry_action": need.expiry_action,
              })
    outcome = _outcome(ctx, seq)
    if not outcome.approved:
        who = f" by {outcome.decided_by}" if outcome.decided_by else ""
        raise ToolError(f"{name} was {outcome.status}{who}: {outcome.comment or 'no comment'}", code="approval_rejected")
    return outcome.arguments


# The steps a run paused by a used-up budget waits on, just before the model call it has not made:
# "budget:tenant" or "budget:agent", after whose budget it was.
BUDGET_STEP_PREFIX = "budget:"


def budget_approval_open(ctx, use: BudgetUse):
    """Park the run on an approval of kind budget (owners decide it once they have raised the
    budget); the model call waits. Suspends."""
    name = BUDGET_STEP_PREFIX + ("agent" if use.agent else "tenant")
    seq, _ = ctx.journal.next(StepKind.APPROVAL, name)
    message = use.describe(ctx.tenant.slug)
    _open(ctx, seq, name, input={"code": use.code, "message": message, "budget": use.as_dict()}, request={
        "kind": "budget", "title": f"Budget used up: {message}", "proposed_arguments": {},
        "context": {**approval_context(ctx, ""), "budget": use.as_dict(),
                    "reason": f"{message}. Raise the budget, then approve to let the run go on; reject to fail it."},
        "risk": "high", "required_approvals": 1, "expires_in_seconds": None, "expiry_action": "wait",
    })


def is_budget_step(step: JournalEntry | None) -> bool:
    return step is not None and step.kind == StepKind.APPROVAL and step.name.startswith(BUDGET_STEP_PREFIX)


def budget_approval_replay(ctx) -> None:
    """Take the budget approval recorded next: still pending, the run parks again; rejected, it
    fails with the budget's code."""
    name = ctx.journal.upcoming().name
    seq, _ = ctx.journal.next(StepKind.APPROVAL, name)
    outcome = _outcome(ctx, seq)
    if not outcome.approved:
        code = "agent_budget_exceeded" if name == BUDGET_STEP_PREFIX + "agent" else "tenant_budget_exceeded"
        who = f" by {outcome.decided_by}" if outcome.decided_by else ""
        raise RunFailure(code, f"the budget approval was {outcome.status}{who}: {outcome.comment or 'no comment'}")


def approval_context(ctx, policy_reason: str) -> dict:
    """What an approver is shown of the run: its request, its latest findings, the model's reason."""
    return {
        "request": ctx.run.input.get("message") or ctx.run.input,
        "findings": ctx.findings[-5:],
        "reason": ctx.last_reason,
        "policy": policy_reason,
    }


def _open(ctx, seq: int, name: str, *, input: dict, request: dict):
    approvals = wait_kind_required("approval")
    wait_begin(ctx.journal, seq, StepKind.APPROVAL, name, WaitingReason.APPROVAL, input=input,
               open=lambda: approvals.open(run=ctx.run, seq=seq, request=request))


def _outcome(ctx, seq: int) -> ApprovalOutcome:
    """The decision delivered to the step; a run woken before it waits again."""
    step = ctx.journal.recorded[seq]
    if step.status != StepStatus.COMPLETED:
        suspend(ctx.journal, WaitingReason.APPROVAL)
    return ApprovalOutcome.from_output(step.output)
