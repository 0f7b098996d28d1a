"""The approval inbox: the pending list (polled, and nudged over the inbox websocket), one page per
request, and the decision, which swaps in the outcome without a page load.

Views parse, call one selector or `approval_decide`, and render; HTMX requests get the partial.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from agentops.audit.services import Actor
from agentops.pages import page_login_required
from runs.budgets import budget_uses
from runs.errors import RunError
from runs.services import budgets_set

from .forms import APPROVE_EDITED, REJECT, BudgetRaiseForm, BulkDecisionForm, DecisionForm
from .models import ApprovalKind, ApprovalStatus
from .pagination import InvalidCursor, page_get
from .selectors import (
    DECIDE_PERMISSION,
    approval_decide_refusal,
    approval_executed_arguments,
    approval_filter_choices,
    approval_get_for_user,
    approval_key_arguments_attach,
    approval_list_for_user,
    approval_pending_count,
    approval_started_list,
    tool_for_request,
)
from .services import ApprovalError, approval_decide, approval_decide_bulk

INBOX_PAGE_SIZE = 50  # the oldest first; the rest a page at a time, never hidden
STARTED_PREVIEW = 10  # of the requests the user started, on the inbox; all on their own page
INBOX_CHANGED = "inbox-changed"  # the client event that refreshes the list and the nav count
BULK_DECIDED = "bulk-decided"  # the client event that clears the ticks and the comment


def _principal(request):
    principal = getattr(request, "principal", None)
    return principal if principal else None  # a lazy object: truth-test it


@page_login_required
@require_GET
def inbox(request):
    principal = _principal(request)
    agent, tool = request.GET.get("agent") or None, request.GET.get("tool") or None
    approvals = approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING, agent=agent, tool=tool)
    try:
        page = page_get(approvals, cursor=request.GET.get("cursor") or None, size=INBOX_PAGE_SIZE)
    except InvalidCursor as error:
        return _bad_cursor(request, error)
    started, started_count = _started_preview(principal)
    if principal:
        approval_key_arguments_attach([*page.items, *started], tenant=principal.tenant)  # one query for both
    context = {
        "nav": "inbox",
        "page": page,
        "approvals": page.items,
        "cursor": request.GET.get("cursor", ""),
        "agent": agent,
        "tool": tool,
        "may_decide": bool(principal and principal.can(DECIDE_PERMISSION)),
        "pending_count": approval_pending_count(principal) if principal else 0,
        "started": started,
        "started_count": started_count,
    }
    if request.htmx and request.htmx.target == "inbox-list":
        return render(request, "approvals/inbox.html#inbox-list", context)
    context["choices"] = approval_filter_choices(principal=principal) if principal else {"agents": [], "tools": []}
    return render(request, "approvals/inbox.html", context)


def _started_preview(principal) -> tuple[list, int]:
    """The oldest requests the user started and how many there are (counted only past the preview)."""
    started = approval_started_list(principal=principal)
    preview = list(started[: STARTED_PREVIEW + 1])
    count = len(preview) if len(preview) <= STARTED_PREVIEW else started.count()
    return preview[:STARTED_PREVIEW], count


@page_login_required
@require_GET
def started(request):
    """Every pending request the user started, a page at a time, with who can decide each."""
    principal = _principal(request)
    try:
        page = page_get(approval_started_list(principal=principal), cursor=request.GET.get("cursor") or None,
                        size=INBOX_PAGE_SIZE)
    except InvalidCursor as error:
        return _bad_cursor(request, error)
    if principal:
        approval_key_arguments_attach(page.items, tenant=principal.tenant)
    return render(request, "approvals/started.html", {"nav": "inbox", "page": page})


def _bad_cursor(request, error):
    return render(request, "approvals/bad_cursor.html", {"nav": "inbox", "message": error.message,
                                                          "first": request.path}, status=400)


@page_login_required
@require_POST
def inbox_bulk_decide(request):
    """One verdict on the selected identical requests; each is decided on its own (the service says
    which were not), and the outcome replaces the bulk form's status line."""
    principal = _principal(request)
    form = BulkDecisionForm(data=request.POST)
    if principal is None:
        outcome = {"ok": False, "message": "Your account is not a member of any tenant yet."}
    elif not form.is_valid():
        outcome = {"ok": False, "message": form.error_text()}
    else:
        try:
            results = approval_decide_bulk(decisions=form.cleaned_data["selected"], user=request.user,
                                           principal=principal, verdict=form.cleaned_data["verdict"],
                                           comment=form.cleaned_data["comment"])
        except ApprovalError as error:
            outcome = {"ok": False, "message": error.message}
        else:
            outcome = _bulk_outcome(results, verdict=form.cleaned_data["verdict"])
    if not request.htmx:
        (messages.success if outcome["ok"] else messages.error)(request, outcome["message"])
        for problem in outcome.get("problems", ()):
            messages.error(request, problem)
        return redirect("approvals:inbox")
    response = render(request, "approvals/inbox.html#bulk-outcome", {"outcome": outcome})
    response["HX-Trigger"] = f"{INBOX_CHANGED}, {BULK_DECIDED}" if outcome.get("decided") else INBOX_CHANGED
    return response


def _bulk_outcome(results, *, verdict) -> dict:
    done = [r for r in results if r.error is None]
    decided = sum(r.status != ApprovalStatus.PENDING for r in done)
    problems = [f"#{r.request_id} was not decided: {r.error.message}" for r in results if r.error is not None]
    verb = "Rejected" if verdict == REJECT else "Approved"
    parts = [f"{verb} {decided} request{pluralize(decided)}."] if decided else []
    if len(done) > decided:  # under a quorum an approval is a vote until enough approvers agree
        parts.append(f"Your approval is recorded on {len(done) - decided}; they need more approvers.")
    message = " ".join(parts) or "No request was decided."
    return {"ok": not problems, "message": message, "problems": problems, "decided": len(done)}


@page_login_required
@require_GET
def inbox_count(request):
    principal = _principal(request)
    count = approval_pending_count(principal) if principal else 0
    return render(request, "approvals/_badge.html", {"pending_count": count})


@page_login_required
@require_GET
def approval_detail(request, pk: int):
    approval = _approval_or_404(request, pk)
    return render(request, "approvals/request.html", _page_context(request, approval))


@page_login_required
@require_POST
def approval_decide_view(request, pk: int):
    approval = _approval_or_404(request, pk)
    form = _decision_form(approval, data=request.POST)
    outcome = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            approval = approval_decide(
                request_id=approval.pk, user=request.user, principal=_principal(request),
                verdict=REJECT if data["verdict"] == REJECT else "approve",
                seen_hash=data["seen_hash"], comment=data["comment"], arguments=form.edited_arguments(),
            )
        except ApprovalError as error:
            outcome = _error_outcome(form, error)
            if outcome is not None:
                approval = _approval_or_404(request, pk)  # what the winner of a race (or an edit) left
        else:
            outcome = {"ok": True, "message": "Your decision is recorded."}
    if not request.htmx:
        if outcome and outcome["ok"]:
            messages.success(request, outcome["message"])
            return redirect("approvals:detail", pk=pk)
        return render(request, "approvals/request.html", _page_context(request, approval, form=form, outcome=outcome))
    response = render(request, "approvals/request.html#decision",
                      _page_context(request, approval, form=form, outcome=outcome))
    response["HX-Trigger"] = INBOX_CHANGED
    return response


@page_login_required
@require_POST
def approval_budget_raise(request, pk: int):
    """On a budget approval's page, an owner changes the budgets the paused run waits on, then
    approves it (approving checks again that no budget is used up)."""
    approval = _approval_or_404(request, pk)
    principal = _principal(request)
    if approval.kind != ApprovalKind.BUDGET or not approval.is_pending:
        raise Http404("No pending budget approval here.")
    if not principal.can("manage_budgets"):
        raise PermissionDenied("Your role does not set budgets (manage_budgets).")
    form = BudgetRaiseForm.for_budgets_of(principal.tenant, approval.agent, data=request.POST)
    if form.is_valid():
        tenant_budgets, agent_limits = form.changes()
        try:
            budgets_set(tenant=principal.tenant, actor=Actor.for_user(request.user), **tenant_budgets,
                        agents=[{"agent": approval.agent.slug, **agent_limits}])
        except RunError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Budgets saved. Approve the request to let the run go on.")
            return redirect("approvals:detail", pk=pk)
    return render(request, "approvals/request.html", _page_context(request, approval, budget_form=form), status=400)


def _approval_or_404(request, pk):
    approval = approval_get_for_user(principal=_principal(request), request_id=pk)
    if approval is None:
        raise Http404("No such approval request.")
    return approval


def _decision_form(approval, data=None) -> DecisionForm:
    tool = tool_for_request(approval)
    initial = {"seen_hash": approval.current_hash, "verdict": "approve"}
    return DecisionForm(data=data, initial=initial, schema=tool.input_schema if tool else None,
                        arguments=approval.arguments_under_review)


def _error_outcome(form, error: ApprovalError) -> dict | None:
    """Refusals about the input go on the form; the rest (a race lost, stale) replace it."""
    if error.code == "comment_required":
        form.add_error("comment", error.message)
        return None
    if error.code == "invalid_arguments":
        form.add_argument_errors(error.details or [{"path": "", "message": error.message}])
        return None
    return {"ok": False, "code": error.code, "message": error.message}


def _page_context(request, approval, *, form=None, outcome=None, budget_form=None) -> dict:
    principal = _principal(request)
    votes = list(approval.decisions.all())
    voted = any(v.user_id == request.user.pk and v.approved_hash == approval.current_hash for v in votes)
    refusal = approval_decide_refusal(principal=principal, request=approval) if approval.is_pending else None
    may_decide = approval.is_pending and refusal is None and not voted
    if may_decide and (form is None or outcome is not None):
        form = _decision_form(approval)  # fresh: after a decision attempt the old form carries an old hash
    context = {
        "nav": "inbox",
        "approval": approval,
        "refusal": refusal[1] if refusal else "",
        "voted": voted,
        "remaining": max(approval.required_approvals - approval.approval_count, 0),
        "form": form if may_decide else None,
        "outcome": outcome,
        "approve_edited": APPROVE_EDITED,
        "context_items": _context_items(approval.context),
        "votes": votes,
    }
    if not approval.is_pending:
        context["comparison"] = _comparison(approval, approval_executed_arguments(approval))
    elif approval.kind == ApprovalKind.BUDGET and principal.can("manage_budgets"):
        tenant = principal.tenant
        context["budget_uses"] = budget_uses(tenant=tenant, agent=approval.agent)
        context["budget_form"] = budget_form or BudgetRaiseForm.for_budgets_of(tenant, approval.agent)
    return context


def _context_items(context: dict) -> dict:
    """The request's context as the page shows it: the ask, the findings, the reason, the rest."""
    context = dict(context or {})
    findings = context.pop("findings", None) or []
    return {
        "request": _text(context.pop("request", "")),
        "findings": [
            {"tool": f.get("tool") or f.get("name") or "", "result": _pretty(f.get("result", f.get("output", f)))}
            if isinstance(f, dict) else {"tool": "", "result": _pretty(f)}
            for f in (findings if isinstance(findings, list) else [findings])
        ],
        "reason": _text(context.pop("reason", "")),
        "policy": _text(context.pop("policy", "")),
        "other": {key: _pretty(value) for key, value in context.items()},
    }


def _comparison(approval, executed) -> dict:
    """Rows of proposed / approved / executed values per argument, with what differs marked."""
    proposed = approval.proposed_arguments or {}
    approved = approval.approved_arguments
    names = list(proposed) + [n for n in (approved or {}) if n not in proposed]
    names += [n for n in (executed or {}) if n not in names]
    rows = []
    missing = object()
    for name in names:
        p = proposed.get(name, missing)
        a = (approved or {}).get(name, missing) if approved is not None else missing
        e = (executed or {}).get(name, missing) if isinstance(executed, dict) else missing
        rows.append({
            "name": name,
            "proposed": _cell(p, missing), "approved": _cell(a, missing), "executed": _cell(e, missing),
            "edited": approved is not None and a != p,
            "drifted": isinstance(executed, dict) and approved is not None and e != a,
        })
    return {"rows": rows, "has_approved": approved is not None, "has_executed": isinstance(executed, dict)}


def _cell(value, missing) -> str:
    return "—" if value is missing else _pretty(value)


def _pretty(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _text(value) -> str:
    return value if isinstance(value, str) else _pretty(value) if value else ""
