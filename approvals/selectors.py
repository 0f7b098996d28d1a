"""Reads of approvals, always scoped to the principal's tenant and, for the inbox, to what the
user may decide: the role permission `decide_approvals`, the request's approver group, and the
self-approval rule."""

from __future__ import annotations

import json

from django.db.models import Q, Subquery

from agentops.agents.models import Agent

from runs.journal import collect_refs, load_blobs, resolve
from runs.models import Step, StepKind
from tools.schemas import summary_argument_names
from tools.selectors import tool_get, tool_map

from .models import ApprovalKind, ApprovalRequest, ApprovalStatus

DECIDE_PERMISSION = "decide_approvals"
DECIDE_SCOPE = "approvals:write"
BUDGET_PERMISSION = ("manage_budgets", "budgets:write")
KEY_ARGUMENTS = 3  # shown per inbox row when the tool's schema marks none as summary
KEY_VALUE_LENGTH = 40


def _with_relations(queryset):
    return _listed(queryset).select_related("run", "escalation_group")


def _listed(queryset):
    # What a list shows: not the run, whose JSON would be read for every row and shown in none.
    return queryset.select_related("agent", "approver_group", "requested_by", "decided_by").prefetch_related(
        "decisions__user")


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
        # The agent's id as a scalar subquery, so the (tenant, status, agent, created_at) index serves it.
        agent_id = Agent.objects.filter(tenant_id=principal.tenant.pk, slug=agent).values("pk")[:1]
        requests = requests.filter(agent_id=Subquery(agent_id))
    if tool:
        requests = requests.filter(tool_name=tool)
    return _listed(requests).order_by("created_at", "pk")


def approval_pending_count(principal) -> int:
    """How many requests wait for this user: the number in the nav."""
    return approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING).count()


def approval_filter_choices(*, principal) -> dict:
    """The agents and tools of the user's pending requests, for the inbox filters (two queries)."""
    pending = approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING).order_by()
    agents = pending.values_list("agent__slug", "agent__name").distinct().order_by("agent__slug")
    tools = pending.exclude(tool_name="").values_list("tool_name", flat=True).distinct().order_by("tool_name")
    return {"agents": list(agents), "tools": list(tools)}


def approval_started_list(*, principal):
    """Pending requests of runs the user started or that act on their behalf, oldest first.

    For anyone who may view the tenant's approvals: these are what the user waits for, decided
    by others (or by themselves where the tenant allows self-approval).
    """
    if principal is None or not principal.can("view"):
        return ApprovalRequest.objects.none()
    user = principal.user
    requests = ApprovalRequest.objects.filter(tenant_id=principal.tenant.pk, status=ApprovalStatus.PENDING).filter(
        Q(run__created_by=user) | Q(run__on_behalf_of=user) | Q(requested_by=user)
    )
    return _listed(requests).order_by("created_at", "pk")


def approval_key_arguments_attach(requests, *, tenant) -> list:
    """Sets `key_arguments` [(name, short text)] on each request, with one query for their tools.

    The arguments the tool's schema marks "x-summary", else the first few scalar ones; values are
    cut to KEY_VALUE_LENGTH characters (the template escapes them).
    """
    requests = list(requests)
    names = {r.tool_name for r in requests if r.tool_name}
    tools = tool_map(tenant=tenant, names=names) if names else {}
    for request in requests:
        tool = tools.get(request.tool_name)
        request.key_arguments = _key_arguments(request.arguments_under_review, tool.input_schema if tool else None)
    return requests


def _key_arguments(arguments, schema) -> list[tuple[str, str]]:
    if not isinstance(arguments, dict):
        return []
    marked = [name for name in summary_argument_names(schema) if name in arguments]
    if not marked:
        order = list((schema or {}).get("properties") or {}) + list(arguments)
        scalars = [n for n in dict.fromkeys(order) if n in arguments and not isinstance(arguments[n], (dict, list))]
        marked = scalars[:KEY_ARGUMENTS]
    return [(name, _short(arguments[name])) for name in marked]


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= KEY_VALUE_LENGTH else text[: KEY_VALUE_LENGTH - 1] + "…"


def approval_get_for_user(*, principal, request_id) -> ApprovalRequest | None:
    """A request of the principal's tenant, for anyone who may view the tenant's approvals.

    Reading is wider than deciding: `approval_decide_refusal` says whether this user may decide.
    """
    if principal is None or not principal.can("view"):
        return None
    return _with_relations(ApprovalRequest.objects.filter(tenant_id=principal.tenant.pk, pk=request_id)).first()


def approval_list_for_steps(*, run, seqs: list[int]) -> list[ApprovalRequest]:
    """The run's requests opened by its steps `seqs`, as the API shows them (its tenant only)."""
    return list(_listed(ApprovalRequest.objects.filter(tenant_id=run.tenant_id, run=run, step_seq__in=seqs)))


def approval_decide_refusal(*, principal, request, user=None) -> tuple[str, str] | None:
    """Why `user` may not decide `request` as (code, message), or None when they may.

    Checks the tenant, the role permission (and an API key's `approvals:write` scope), the
    approver group and self-approval; not the request's status or the hash (the decision does).
    """
    user = user or principal.user
    if request.tenant_id != principal.tenant.pk or user.pk != principal.user.pk:
        return "not_allowed", "You cannot decide requests of another tenant or for another user."
    if request.kind == ApprovalKind.BUDGET:
        # Approving means the budget was raised: those who set budgets decide, their own runs too.
        if principal.can(*BUDGET_PERMISSION):
            return None
        return "not_allowed", "Only owners decide budget approvals (they raise the budget, then approve)."
    if not principal.can(DECIDE_PERMISSION, DECIDE_SCOPE):
        return "not_allowed", _permission_refusal(principal)
    if request.approver_group_id and not user.groups.filter(pk=request.approver_group_id).exists():
        return "not_allowed", f"Only members of the group {request.approver_group.name!r} may decide this request."
    requesters = {request.run.created_by_id, request.run.on_behalf_of_id, request.requested_by_id} - {None}
    if user.pk in requesters and not principal.tenant.allow_self_approval:
        return "self_approval", "You requested this run: another approver must decide it."
    return None


def _permission_refusal(principal) -> str:
    """The role's refusal for everyone; the key's scope is named only to callers using a key."""
    if not principal.membership.grants(DECIDE_PERMISSION):
        return f"Your role ({principal.membership.get_role_display().lower()}) does not allow deciding approvals."
    return f"This API key lacks the scope {DECIDE_SCOPE!r}, which deciding approvals needs."


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
        "kind": request.kind,
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
