"""The audit page (`/audit/`): the tenant's audit log for the roles that may read it
(`view_audit`: owners, operators, developers), filtered and paged by keyset, newest first, and its
export (JSON Lines or CSV, streamed) carrying the page's filters.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from agentops.keyset import InvalidCursor
from agentops.pages import page_login_required

from .export import CONTENT_TYPES, FORMATS, audit_export_events, export_lines
from .models import ActorType, AuditEvent
from .selectors import RUN_TARGET_TYPE, AuditFilters, audit_event_list, start_of_day, tenant_audit_events

EVENTS_PER_PAGE = 50
# Where an event's target is shown: the URL name and the argument it takes.
TARGET_PAGES = {
    RUN_TARGET_TYPE: ("runs:trace", "run_id"),
    "approvals.approvalrequest": ("approvals:detail", "pk"),
    "tools.tool": ("admin:tools_tool_change", "object_id"),
    "agents.agent": ("admin:agents_agent_change", "object_id"),
}


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200, label="Actor",
                            widget=forms.TextInput(attrs={"placeholder": "username, key, run …"}))
    action = forms.CharField(required=False, max_length=100, label="Action",
                             widget=forms.TextInput(attrs={"placeholder": "run.failed"}))
    target = forms.RegexField(required=False, max_length=170, regex=r"^[\w.]+:.+$", label="Target",
                              error_messages={"invalid": "A target is type:id, as runs.run:<id>."},
                              widget=forms.TextInput(attrs={"placeholder": "type:id"}))
    run = forms.UUIDField(required=False, label="Run")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> AuditFilters:
        """The valid filters; an invalid one is left out (and its error shown)."""
        self.is_valid()
        data = self.cleaned_data
        return AuditFilters(
            actor=data.get("actor") or "", action=data.get("action") or "", target=data.get("target") or "",
            run=data.get("run"),
            since=start_of_day(data["date_from"]) if data.get("date_from") else None,
            until=start_of_day(data["date_to"] + dt.timedelta(days=1)) if data.get("date_to") else None,
        )


def _principal_who_audits(request):
    principal = request.principal
    if not principal or not principal.can("view_audit"):
        raise PermissionDenied("Your role does not allow reading the audit log (view_audit).")
    return principal


@page_login_required
@require_GET
def audit_page(request):
    """The events, newest first, a page at a time by cursor (`?cursor=`)."""
    principal = _principal_who_audits(request)
    form = AuditFilterForm(request.GET)
    filters = form.filters()
    events = audit_event_list(principal=principal, filters=filters)
    cursor, notice = None, ""
    try:
        cursor = events.cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    except InvalidCursor as error:
        notice = error.message
    page = events.page(cursor=cursor, size=EVENTS_PER_PAGE)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "nav": "audit", "form": form, "notice": notice, "filtered": filters != AuditFilters(),
        "rows": [(event, event_links(event)) for event in page.items],
        "older": _page_link(query, page.next), "newer": _page_link(query, page.previous),
        "exports": [(fmt, f"{reverse('audit:export')}?{_with(query, format=fmt)}") for fmt in FORMATS],
        "selective": filters.selective,
    }
    wants_partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, "audit/_audit_table.html" if wants_partial else "audit/audit.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _with(query, **values) -> str:
    query = query.copy()
    for name, value in values.items():
        query[name] = value
    return query.urlencode()


def _page_link(query, cursor) -> str | None:
    return None if cursor is None else f"?{_with(query, cursor=cursor.encode())}"


@page_login_required
@require_GET
def audit_export(request):
    """The events the page's filters select, as a file, streamed: chain order (export.py)."""
    principal = _principal_who_audits(request)
    fmt = request.GET.get("format", "jsonl")
    if fmt not in FORMATS:
        fmt = "jsonl"
    filters = AuditFilterForm(request.GET).filters()
    events = audit_export_events(tenant_audit_events(principal), tenant_ids=[principal.tenant.pk], filters=filters)
    response = StreamingHttpResponse(export_lines(events, fmt), content_type=f"{CONTENT_TYPES[fmt]}; charset=utf-8")
    name = f"audit-{principal.tenant.slug}-{timezone.now():%Y%m%dT%H%M%SZ}{'-selection' if filters.selective else ''}"
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def event_links(event: AuditEvent) -> list[tuple[str, str]]:
    """(label, URL) of the pages an event is about: its run, approval request or tool."""
    links = []
    if event.actor_type == ActorType.RUN and event.actor_id:
        links.append(_link("run", "runs:trace", run_id=event.actor_id))
    if event.target_type in TARGET_PAGES and event.target_id:
        name, argument = TARGET_PAGES[event.target_type]
        links.append(_link(event.target_type.split(".")[-1].removesuffix("request"), name, **{argument: event.target_id}))
    data = event.data if isinstance(event.data, dict) else {}
    if data.get("run") and event.target_type != RUN_TARGET_TYPE:
        links.append(_link("run", "runs:trace", run_id=data["run"]))
    if isinstance(data.get("tool"), str) and event.target_type != "tools.tool":
        # A call names its tool, not its row: the tools' admin list searched by that name.
        tools = _link("tool", "admin:tools_tool_changelist")
        links.append(tools and ("tool", f"{tools[1]}?{urlencode({'q': data['tool']})}"))
    return list(dict.fromkeys(link for link in links if link))


def _link(label: str, name: str, **kwargs) -> tuple[str, str] | None:
    try:
        return label, reverse(name, kwargs=kwargs)
    except NoReverseMatch:  # an id that is no longer of that form, or an app that is not installed
        return None
