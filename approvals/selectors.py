"""Reads of approvals, always scoped to the principal's tenant and, for the inbox, to what the
user may decide: the role permission `decide_approvals`, the request's approver group, and the
self-approval rule."""

from __future__ import annotations

from django.db.models import Q

from runs.journal import collect_refs, load_blobs, resolve
from runs.models import Step, StepKind
from tools.selectors import tool_get

from .models import ApprovalRequest, ApprovalStatus

DECIDE_PERMISSION = "decide_approvals"
DECIDE_SCOPE = "approvals:write"


def _with_relations(queryset):
    return queryset.select_related(
        "run", "run__agent", "approver_group", "escalation_group", "requested_by", "decided_by"
    ).prefetch_related("decisions__user")


def approval_list_for_user(*, principal, status: str | None = None, agent: str | None = None,
                           tool: str | None = None):
    """Requests of the principal's tenant the user may decide (or could have), oldest first.

    `status` None lists every status; `agent` is an agent slug, `tool` a tool name.
    """
    if principal is None or not principal.can(DECIDE_PERMISSION):
        return ApprovalRequest.objects.none()
    user = principal.user
    requests = ApprovalRequest.objects.filter(tenant_id=principal.tenant.pk).filter(
        Q(approver_group__isnull=True) | Q(approver_group__in=user.groups.values("pk"))
    )
    if not principal.tenant.allow_self_approval:
        requests = requests.exclude(run__created_by=user).exclude(run__on_behalf_of=user).exclude(requested_by=user)
    if status:
        requests = requests.filter(status=status)
    if agent:
        requests = requests.filter(run__agent__slug=agent)
    if tool:
        requests = requests.filter(tool_name=tool)
    return _with_relations(requests).order_by("created_at", "pk")


def approval_pending_count(principal) -> int:
    """How many requests wait for this user: the number in the nav."""
    return approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING).count()


def approval_filter_choices(*, principal) -> dict:
    """The agents and tools of the user's pending requests, for the inbox filters (two queries)."""
    pending = approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING).order_by()
    agents = pending.values_list("run__agent__slug", "run__agent__name").distinct().order_by("run__agent__slug")
    tools = pending.exclude(tool_name="").values_list("tool_name", flat=True).distinct().order_by("tool_name")
    return {"agents": list(agents), "tools": list(tools)}


def approval_get_for_user(*, principal, request_id) -> ApprovalRequest | None:
    """A request of the principal's tenant, for anyone who may view the tenant's approvals.

    Reading is wider than deciding: `approval_decide_refusal` says whether this user may decide.
    """
    if principal is None or not principal.can("view"):
        return None
    return _with_relations(ApprovalRequest.objects.filter(tenant_id=principal.tenant.pk, pk=request_id)).first()


def approval_decide_refusal(*, principal, request, user=None) -> tuple[str, str] | None:
    """Why `user` may not decide `request` as (code, message), or None when they may.

    Checks the tenant, the role permission (and an API key's `approvals:write` scope), the
    approver group and self-approval; not the request's status or the hash (the decision does).
    """
    user = user or principal.user
    if request.tenant_id != principal.tenant.pk or user.pk != principal.user.pk:
        return "not_allowed", "You cannot decide requests of another tenant or for another user."
    if not principal.can(DECIDE_PERMISSION, DECIDE_SCOPE):
        return "not_allowed", "Your role (or this API key's scopes) does not allow deciding approvals."
    if request.approver_group_id and not user.groups.filter(pk=request.approver_group_id).exists():
        return "not_allowed", f"Only members of the group {request.approver_group.name!r} may decide this request."
    requesters = {request.run.created_by_id, request.run.on_behalf_of_id, request.requested_by_id} - {None}
    if user.pk in requesters and not principal.tenant.allow_self_approval:
        return "self_approval", "You requested this run: another approver must decide it."
    return None


def approval_executed_arguments(request) -> dict | None:
    """The arguments the tool ran with: the input of the run's tool step right after the approval.

    None while the tool has not run (pending, rejected, or the run has not got there yet).
    """
    step = Step.objects.filter(run_id=request.run_id, seq=request.step_seq + 1, kind=StepKind.TOOL).first()
    if step is None or step.input is None:
        return None
    refs: set[str] = set()
    collect_refs(step.input, refs)
    value = resolve(step.input, load_blobs(refs))
    if isinstance(value, dict) and isinstance(value.get("arguments"), dict):
        return value["arguments"]
    return value


def tool_for_request(request):
    """The tool the request gates, as the run's tenant sees it (its own shadows a global one)."""
    return tool_get(tenant=request.tenant, name=request.tool_name) if request.tool_name else None


def approval_event_payload(request) -> dict:
    """The `data` of approval webhooks: what a receiver needs to show or act on the request."""
    return {
        "id": request.pk,
        "status": request.status,
        "title": request.title,
        "tool": request.tool_name,
        "run": str(request.run_id),
        "step_seq": request.step_seq,
        "risk": request.risk,
        "proposed_arguments": request.proposed_arguments,
        "approved_arguments": request.approved_arguments,
        "required_approvals": request.required_approvals,
        "approver_group": request.approver_group.name if request.approver_group_id else None,
        "expires_at": request.expires_at,
        "decided_by": request.decided_by.get_username() if request.decided_by_id else None,
        "decided_at": request.decided_at,
        "comment": request.comment,
        "url": f"/inbox/{request.pk}/",
    }
