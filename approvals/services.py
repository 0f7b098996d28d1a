"""The verbs of approvals: create, decide, expire, cancel.

Each verb is one transaction and audited. The engine opens a request through the `approval` wait
kind (approvals.waits) inside the transaction that parks the run. Every decision and expiry
delivers its outcome to the run's waiting step (`runs.waits.wait_deliver`: approved → the approved
arguments; rejected / expired → the comment and who decided, empty when the system did), which
queues the run, in the same transaction: a decided request and a resumed run commit together or
not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agentops.audit.services import Actor, audit_diff, audit_record
from agentops.errors import CodedError
from agentops.webhooks.services import webhook_emit
from agentops.agents.models import Agent
from runs.budgets import budget_uses
from runs.live import notify_inbox_changed
from runs.waits import ApprovalOutcome, wait_deliver
from tools.errors import ToolRefused
from tools.gateway import tool_validate_arguments
from tools.models import ExpiryAction, Risk
from tools.schemas import instance_errors

from .models import COMMENT_MAX_LENGTH, ApprovalDecision, ApprovalKind, ApprovalRequest, ApprovalStatus, arguments_hash
from .selectors import approval_decide_refusal, approval_event_payload, tool_for_request

__all__ = [
    "ApprovalError",
    "approval_cancel_for_run",
    "approval_decide",
    "approval_decide_bulk",
    "approval_expire_due",
    "approval_request_create",
]

Verdict = ApprovalDecision.Verdict

# Past this many due requests a sweep stops; the next (a worker's recovery, seconds later) takes the rest.
EXPIRE_BATCH = 200
# Requests decided together in one bulk decision, at most.
BULK_MAX = 100
# An escalation extends the expiry by the request's original window, but never by less than this.
MIN_ESCALATION_SECONDS = 60


class ApprovalError(CodedError):
    """A decision the rules refuse. `code` is stable (the API maps it to a status):

    not_found, not_allowed, self_approval (403/404); stale, already_decided, not_pending (409);
    comment_required, comment_too_long, invalid_arguments (400). `details` lists argument errors for inline display.
    """


# Creating ------------------------------------------------------------------------------------


def approval_request_create(
    *,
    run,
    step_seq: int,
    title: str,
    tool_name: str = "",
    proposed_arguments: dict,
    context: dict,
    risk: str = Risk.MEDIUM,
    required_approvals: int = 1,
    approver_group_id=None,
    escalation_group_id=None,
    expires_in_seconds: int | None = None,
    expiry_action: str = ExpiryAction.WAIT,
    kind: str = ApprovalKind.ACTION,
) -> ApprovalRequest:
    """The request the run's step `step_seq` waits for.

    Idempotent per (run, step_seq): a replayed suspend gets the existing request back, unchanged.
    Runs in the caller's transaction (the engine's suspend), so the request exists exactly when the
    run is recorded as waiting; `approval.requested` (webhooks, live inbox) leaves after commit.
    """
    if risk not in Risk.values or expiry_action not in ExpiryAction.values or required_approvals < 1:
        raise ValueError(f"invalid approval policy: risk={risk!r} expiry_action={expiry_action!r} "
                         f"required_approvals={required_approvals!r}")
    existing = ApprovalRequest.objects.filter(run=run, step_seq=step_seq).first()
    if existing is not None:
        return existing
    proposed_hash = arguments_hash(proposed_arguments)
    expires_at = timezone.now() + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                tenant_id=run.tenant_id, run=run, agent_id=run.agent_id, step_seq=step_seq, title=title[:300], kind=kind,
                tool_name=tool_name, context=context or {}, proposed_arguments=proposed_arguments,
                proposed_hash=proposed_hash,
                current_hash=proposed_hash, risk=risk, required_approvals=required_approvals,
                approver_group_id=approver_group_id, escalation_group_id=escalation_group_id,
                expires_at=expires_at, expiry_action=expiry_action, requested_by=run.end_user,
            )
            audit_record(tenant=run.tenant, action="approval.requested", actor=Actor.for_run(run), target=request,
                         data={"run": str(run.pk), "step_seq": step_seq, "tool": tool_name, "kind": kind,
                               "arguments": proposed_arguments, "risk": risk})
            _notify(request, "approval.requested")
    except IntegrityError:
        # Another process created it between our read and insert: theirs is the request.
        return ApprovalRequest.objects.get(run=run, step_seq=step_seq)
    return request


# Deciding ------------------------------------------------------------------------------------


def approval_decide(
    *,
    request_id,
    user,
    verdict: str,
    seen_hash: str,
    comment: str = "",
    arguments: dict | None = None,
    principal,
) -> ApprovalRequest:
    """Record `user`'s verdict on the request; decide it when the quorum is reached or on a reject.

    The one decision path for the inbox page and the API. Holds a row lock on the request
    (SELECT ... FOR UPDATE) while it checks and counts the votes; the final transition is a
    compare-and-swap on status='pending', so exactly one decision wins concurrent clicks and the
    others get `already_decided` naming the winner. `seen_hash` must be the request's
    `current_hash`: a decision is bound to the arguments the approver saw. Edited `arguments` are
    validated against the tool's schema (a database read, no other I/O) and become, under a
    quorum, what the remaining approvers are asked about. The decision resumes the run in this
    transaction. Raises ApprovalError.
    """
    if verdict not in Verdict.values:
        raise ValueError(f"unknown verdict {verdict!r}")
    comment = (comment or "").strip()
    with transaction.atomic():
        request = _request_lock(request_id=request_id, principal=principal)
        _decision_check(request=request, user=user, principal=principal, verdict=verdict,
                        seen_hash=seen_hash, comment=comment)
        if verdict == Verdict.REJECT:
            _vote_record(request=request, user=user, verdict=verdict, seen_hash=seen_hash, comment=comment)
            return _request_finish(request=request, status=ApprovalStatus.REJECTED, user=user,
                                   comment=comment, principal=principal)
        return _approve(request=request, user=user, seen_hash=seen_hash, comment=comment,
                        arguments=arguments, principal=principal)


@dataclass(frozen=True)
class BulkItemResult:
    request_id: int
    status: str | None  # the request's status after the decision; None when refused
    error: ApprovalError | None = None


def approval_decide_bulk(*, decisions: list[tuple[int, str]], user, verdict: str, comment: str = "",
                         principal) -> list[BulkItemResult]:
    """One verdict and comment on several identical requests: `decisions` are (request id, seen_hash).

    Identical means the same tool, the same policy (risk, quorum, approver group) and the same
    arguments seen; otherwise nothing is decided (`not_identical`). Each request then goes through
    `approval_decide` in its own transaction, with its own audit event and `seen_hash` check, so
    one that changed or was decided meanwhile is reported in its result and the others still count.
    """
    comment = (comment or "").strip()
    _bulk_check(decisions=decisions, verdict=verdict, comment=comment, principal=principal)
    results = []
    for request_id, seen_hash in decisions:
        try:
            request = approval_decide(request_id=request_id, user=user, verdict=verdict, seen_hash=seen_hash,
                                      comment=comment, principal=principal)
        except ApprovalError as error:
            results.append(BulkItemResult(request_id=request_id, status=None, error=error))
        else:
            results.append(BulkItemResult(request_id=request_id, status=request.status))
    return results


def _bulk_check(*, decisions, verdict, comment, principal) -> None:
    ids = [request_id for request_id, _ in decisions]
    if not ids:
        raise ApprovalError("nothing_selected", "Select the requests to decide.")
    if len(ids) > BULK_MAX:
        raise ApprovalError("too_many", f"Decide at most {BULK_MAX} requests at once ({len(ids)} given).")
    if len(set(ids)) != len(ids):
        raise ApprovalError("not_identical", "A request is listed twice.")
    if verdict == Verdict.REJECT and not comment:
        raise ApprovalError("comment_required", "Say why you reject: the agent and the requester read your comment.")
    found = ApprovalRequest.objects.filter(tenant_id=principal.tenant.pk, pk__in=ids).only(
        "tool_name", "risk", "required_approvals", "approver_group_id")
    if len({seen for _, seen in decisions}) > 1 or len({r.policy_key for r in found}) > 1:
        raise ApprovalError("not_identical", "Only identical requests (the same tool, arguments and policy) "
                                             "can be decided together.")


def _request_lock(*, request_id, principal) -> ApprovalRequest:
    # Only never-changing relations are joined: after waiting for the lock, PostgreSQL re-reads the
    # locked row but not the joined ones, so a joined `decided_by` would still be the old (empty) one.
    request = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("run", "tenant")
        .filter(pk=request_id, tenant_id=principal.tenant.pk)
        .first()
    )
    if request is None:
        raise ApprovalError("not_found", "No such approval request in this tenant.")
    return request


def _decision_check(*, request, user, principal, verdict, seen_hash, comment) -> None:
    if not request.is_pending:
        raise _not_pending_error(request)
    refusal = approval_decide_refusal(principal=principal, request=request, user=user)
    if refusal is not None:
        raise ApprovalError(*refusal)
    if seen_hash != request.current_hash:
        raise ApprovalError("stale", "The arguments changed since this request was loaded; reload it and decide again.")
    if verdict == Verdict.REJECT and not comment:
        raise ApprovalError("comment_required", "Say why you reject: the agent and the requester read your comment.")
    if len(comment) > COMMENT_MAX_LENGTH:
        # The agent reads the comment in its next prompt: an unbounded one would become the prompt.
        raise ApprovalError("comment_too_long", f"Keep the comment within {COMMENT_MAX_LENGTH} characters "
                                                f"(this one has {len(comment)}).")
    if request.decisions.filter(user=user, approved_hash=request.current_hash).exists():
        raise ApprovalError(
            "already_decided",
            f"You already approved these arguments; {request.required_approvals - request.approval_count} "
            "more approval(s) needed from other approvers.",
        )


def _not_pending_error(request) -> ApprovalError:
    when = timezone.localtime(request.decided_at).strftime("%Y-%m-%d %H:%M:%S %Z") if request.decided_at else ""
    if request.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        who = request.decided_by.get_username() if request.decided_by else "the system"
        return ApprovalError("already_decided", f"Already {request.status} by {who} at {when}.")
    return ApprovalError("not_pending", f"This request is {request.status}{' since ' + when if when else ''}; "
                                        "it can no longer be decided.")


def _approve(*, request, user, seen_hash, comment, arguments, principal) -> ApprovalRequest:
    if request.kind == ApprovalKind.BUDGET:
        _budget_raised_check(request)
    if arguments is not None and not isinstance(arguments, dict):
        raise ApprovalError("invalid_arguments", "The arguments must be a JSON object.")
    reviewed, approved_hash = request.arguments_under_review, request.current_hash
    changes = audit_diff(reviewed, arguments) if arguments is not None else {}
    if changes:
        reviewed = _arguments_validate(request=request, arguments=arguments)
        approved_hash = arguments_hash(reviewed)
    _vote_record(request=request, user=user, verdict=Verdict.APPROVE, seen_hash=seen_hash, comment=comment,
                 arguments=reviewed if changes else None, approved_hash=approved_hash, changes=changes)
    if changes:
        _request_arguments_replace(request=request, arguments=reviewed, new_hash=approved_hash)
    if request.approval_count >= request.required_approvals:
        return _request_finish(request=request, status=ApprovalStatus.APPROVED, user=user, comment=comment,
                               principal=principal, approved_arguments=reviewed)
    audit_record(tenant=request.tenant, action="approval.voted", actor=_actor(principal), target=request,
                 data={"user": user.get_username(), "approvals": request.approval_count,
                       "required": request.required_approvals, "changes": changes})
    notify_inbox_changed(request.tenant_id)
    return request


def _budget_raised_check(request) -> None:
    """A budget approval lets the run spend again: refused while a budget is still used up (the
    engine checks again on resume, so a budget lowered meanwhile pauses the run once more)."""
    agent = Agent.objects.get(pk=request.agent_id)
    exceeded = [use for use in budget_uses(tenant=request.tenant, agent=agent) if use.exceeded]
    if exceeded:
        raise ApprovalError("budget_exceeded", f"{exceeded[0].describe(request.tenant.slug)}: raise the budget "
                                               "(PUT /api/v1/budgets/ or the admin) before approving.")


def _arguments_validate(*, request, arguments: dict) -> dict:
    """Edited arguments pass the same schema check the gateway applied to the proposal."""
    if not request.tool_name:
        return arguments  # a workflow's generic approval has no schema: its edits are taken as given
    tool = tool_for_request(request)
    if tool is None:
        raise ApprovalError("invalid_arguments", f"The tool {request.tool_name!r} no longer exists; "
                                                 "approve as proposed or reject.")
    try:
        return tool_validate_arguments(tool=tool, arguments=arguments)
    except ToolRefused as refusal:
        # The gateway's verdict stands; the schema's list says which input each reason belongs to.
        details = [_error_detail(e) for e in instance_errors(tool.input_schema or {}, arguments)]
        raise ApprovalError("invalid_arguments", refusal.message,
                            details=details or [{"path": "", "message": refusal.message}]) from None


def _error_detail(error) -> dict:
    """{"path": "amount", "message": ...} from a validator message "amount: ..." (or a dict/object)."""
    if isinstance(error, str):
        path, sep, message = error.partition(": ")
        return {"path": path, "message": message} if sep else {"path": "", "message": error}
    if isinstance(error, dict):
        path, message = error.get("path", ""), error.get("message", str(error))
    else:
        path, message = getattr(error, "path", ""), getattr(error, "message", str(error))
    if not isinstance(path, str):
        path = ".".join(str(part) for part in path or ())  # jsonschema reports a deque of keys
    return {"path": path, "message": str(message)}


def _vote_record(*, request, user, verdict, seen_hash, comment, arguments=None, approved_hash="", changes=None):
    try:
        with transaction.atomic():
            return ApprovalDecision.objects.create(
                request=request, user=user, verdict=verdict, comment=comment, arguments=arguments,
                seen_hash=seen_hash, approved_hash=approved_hash, changes=changes or {},
            )
    except IntegrityError:
        raise ApprovalError("already_decided", "You already voted on these arguments.") from None


def _request_arguments_replace(*, request, arguments, new_hash) -> None:
    # Compare-and-swap on the hash the approver saw: the row lock makes it hold, the guard says so.
    updated = ApprovalRequest.objects.filter(
        pk=request.pk, status=ApprovalStatus.PENDING, current_hash=request.current_hash
    ).update(current_arguments=arguments, current_hash=new_hash)
    if updated != 1:
        raise ApprovalError("stale", "The arguments changed while you decided; reload and decide again.")
    request.current_arguments, request.current_hash = arguments, new_hash


def _request_finish(*, request, status, user, comment, principal, approved_arguments=None) -> ApprovalRequest:
    """pending → approved/rejected with a compare-and-swap; audits, resumes the run, notifies."""
    now = timezone.now()
    updated = ApprovalRequest.objects.filter(pk=request.pk, status=ApprovalStatus.PENDING).update(
        status=status, decided_by=user, decided_at=now, comment=comment, approved_arguments=approved_arguments,
    )
    if updated != 1:
        request.refresh_from_db()
        raise _not_pending_error(request)
    request.status, request.decided_by, request.decided_at = status, user, now
    request.comment, request.approved_arguments = comment, approved_arguments
    audit_record(
        tenant=request.tenant, action=f"approval.{status}", actor=_actor(principal), target=request,
        data={"user": user.get_username(), "comment": comment, "proposed_arguments": request.proposed_arguments,
              "approved_arguments": approved_arguments,
              "changes": audit_diff(request.proposed_arguments, approved_arguments) if approved_arguments else {}},
    )
    _outcome_deliver(request)
    _notify(request, f"approval.{status}")
    return request


def approval_decide_scripted(*, run, seq: int, approve: bool, arguments: dict | None = None,
                             comment: str = "") -> bool:
    """Decide the run's pending request at step `seq` as scripted in advance (an eval case's
    decisions), without a person: `decided_by` stays empty and the audit event's actor is the
    system ("scripted decision"). Edited arguments are validated as an approver's are (raises
    ApprovalError). Returns False, changing nothing, when no request is pending there. One
    transaction, holding the request's row lock."""
    with transaction.atomic():
        request = (ApprovalRequest.objects.select_for_update(of=("self",)).select_related("run", "tenant")
                   .filter(run=run, step_seq=seq, status=ApprovalStatus.PENDING).first())
        if request is None:
            return False
        approved_arguments = None
        if approve:
            approved_arguments = (request.arguments_under_review if arguments is None
                                  else _arguments_validate(request=request, arguments=arguments))
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        comment = comment or f"{status.label} by the eval case's script."
        now = timezone.now()
        ApprovalRequest.objects.filter(pk=request.pk, status=ApprovalStatus.PENDING).update(
            status=status, decided_at=now, comment=comment, approved_arguments=approved_arguments)
        request.status, request.decided_at, request.comment = status, now, comment
        request.approved_arguments = approved_arguments
        audit_record(tenant=request.tenant, action=f"approval.{status}", actor=Actor.system("scripted decision"),
                     target=request, data={"scripted": True, "comment": comment,
                                           "proposed_arguments": request.proposed_arguments,
                                           "approved_arguments": approved_arguments})
        _outcome_deliver(request)
        _notify(request, f"approval.{status}")
        return True


def _actor(principal) -> Actor:
    return Actor.for_api_key(principal.api_key) if principal.api_key is not None else Actor.for_user(principal.user)


def _outcome_deliver(request) -> None:
    """Hand the decided request's outcome to the run's waiting step; the run resumes with it."""
    approved = request.status == ApprovalStatus.APPROVED
    arguments = request.arguments_under_review if request.approved_arguments is None else request.approved_arguments
    outcome = ApprovalOutcome(
        approved=approved, arguments=arguments if approved else None, comment=request.comment,
        decided_by=request.decided_by.get_username() if request.decided_by else None, status=request.status,
        request=str(request.pk),
    )
    wait_deliver(run_id=request.run_id, seq=request.step_seq, output=asdict(outcome))


def _notify(request, event: str) -> None:
    """Webhook deliveries in this transaction (an outbox); open inboxes are nudged after commit."""
    webhook_emit(tenant=request.tenant, event=event, payload=approval_event_payload(request))
    notify_inbox_changed(request.tenant_id)


# Expiring and cancelling -------------------------------------------------------------------


def approval_expire_due(now=None) -> int:
    """Apply the expiry policy of every pending request past `expires_at`; returns how many.

    `reject` expires the request (status `expired`, decided by nobody) and resumes the run;
    `escalate` hands the request to its escalation group (or, without one, to every member who
    may decide approvals) and extends the expiry once by the original window; once escalated, the
    next expiry expires it. `wait` requests are never touched. Each request is its own short
    transaction with a row lock, so a sweep never holds many locks and two sweeps do no harm.
    """
    now = now or timezone.now()
    due = list(
        ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=now)
        .exclude(expiry_action=ExpiryAction.WAIT)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:EXPIRE_BATCH]
    )
    return sum(_approval_expire_one(request_id=pk, now=now) for pk in due)


def _approval_expire_one(*, request_id, now) -> int:
    with transaction.atomic():
        request = (
            ApprovalRequest.objects.select_for_update(of=("self",)).select_related("tenant", "run")
            .filter(pk=request_id, status=ApprovalStatus.PENDING, expires_at__lte=now).first()
        )
        if request is None:
            return 0  # decided or escalated since the sweep listed it
        if request.expiry_action == ExpiryAction.ESCALATE and request.escalated_at is None:
            return _request_escalate(request=request, now=now)
        return _request_expire(request=request, now=now)


def _request_escalate(*, request, now) -> int:
    window = max((request.expires_at - request.created_at).total_seconds(), MIN_ESCALATION_SECONDS)
    expires_at = now + timedelta(seconds=window)
    from_group = request.approver_group_id
    updated = ApprovalRequest.objects.filter(
        pk=request.pk, status=ApprovalStatus.PENDING, escalated_at__isnull=True
    ).update(approver_group_id=request.escalation_group_id, escalated_at=now, expires_at=expires_at)
    if updated != 1:
        return 0
    request.approver_group_id, request.escalated_at, request.expires_at = request.escalation_group_id, now, expires_at
    audit_record(tenant=request.tenant, action="approval.escalated", actor=Actor.system("approval expiry"),
                 target=request, data={"from_group": from_group, "to_group": request.escalation_group_id,
                                       "expires_at": expires_at})
    _notify(request, "approval.escalated")
    return 1


def _request_expire(*, request, now) -> int:
    comment = f"No decision before {request.expires_at:%Y-%m-%d %H:%M %Z}; expired by policy."
    updated = ApprovalRequest.objects.filter(pk=request.pk, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.EXPIRED, decided_at=now, comment=comment,
    )
    if updated != 1:
        return 0
    request.status, request.decided_at, request.comment = ApprovalStatus.EXPIRED, now, comment
    audit_record(tenant=request.tenant, action="approval.expired", actor=Actor.system("approval expiry"),
                 target=request, data={"expires_at": request.expires_at, "policy": request.expiry_action})
    _outcome_deliver(request)
    _notify(request, "approval.expired")
    return 1


def approval_cancel_for_run(*, run) -> int:
    """Cancel the run's pending requests (the run is being cancelled); returns how many.

    Runs in the caller's transaction when there is one. Does not resume the run: cancelling it is
    the caller's business. Idempotent: a second call finds nothing pending.
    """
    with transaction.atomic():
        pending = list(
            ApprovalRequest.objects.select_for_update(of=("self",)).select_related("tenant", "run")
            .filter(run=run, status=ApprovalStatus.PENDING)
        )
        now = timezone.now()
        updated = ApprovalRequest.objects.filter(
            pk__in=[r.pk for r in pending], status=ApprovalStatus.PENDING
        ).update(status=ApprovalStatus.CANCELLED, decided_at=now, comment="The run was cancelled.")
        for request in pending:
            request.status, request.decided_at = ApprovalStatus.CANCELLED, now
            audit_record(tenant=request.tenant, action="approval.cancelled", actor=Actor.system("run cancelled"),
                         target=request, data={"run": str(run.pk)})
        if pending:
            notify_inbox_changed(run.tenant_id)
        return updated
