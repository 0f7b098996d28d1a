"""The approval inbox: the pending list (polled, and nudged over the inbox websocket), one page per
request, and the decision, which swaps in the outcome without a page load.

Views parse, call one selector or `approval_decide`, and render; HTMX requests get the partial.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agentops.pages import page_login_required

from .forms import APPROVE_EDITED, REJECT, DecisionForm
from .models import ApprovalStatus
from .selectors import (
    approval_decide_refusal,
    approval_executed_arguments,
    approval_filter_choices,
    approval_get_for_user,
    approval_list_for_user,
    approval_pending_count,
    tool_for_request,
)
from .services import ApprovalError, approval_decide

INBOX_LIMIT = 200  # the oldest first; a longer queue is worked through, not scrolled
INBOX_CHANGED = "inbox-changed"  # the client event that refreshes the list and the nav count


def _principal(request):
    principal = getattr(request, "principal", None)
    return principal if principal else None  # a lazy object: truth-test it


@page_login_required
@require_GET
def inbox(request):
    principal = _principal(request)
    agent, tool = request.GET.get("agent") or None, request.GET.get("tool") or None
    approvals = approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING, agent=agent, tool=tool)
    context = {
        "nav": "inbox",
        "approvals": approvals[:INBOX_LIMIT],
        "limit": INBOX_LIMIT,
        "agent": agent,
        "tool": tool,
        "pending_count": approval_pending_count(principal) if principal else 0,
    }
    if request.htmx and request.htmx.target == "inbox-list":
        return render(request, "approvals/inbox.html#inbox-list", context)
    context["choices"] = approval_filter_choices(principal=principal) if principal else {"agents": [], "tools": []}
    return render(request, "approvals/inbox.html", context)


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


def _page_context(request, approval, *, form=None, outcome=None) -> dict:
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
