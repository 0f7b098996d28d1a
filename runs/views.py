"""Run pages: the runs list and the trace viewer, their HTMX partials, and the operator actions.

Pages are built from partials and an HTMX request gets only the partial it swaps. Every page
reads a fixed number of queries whatever the size of the run (see runs/selectors.py).

Live traces follow the journal by step sequence number: the page knows the last step it shows
and asks for the steps after it (`runs:steps`), which also re-reads the steps it shows that may
still change and sends the header again. Polling drives that request; a websocket ping
(runs/consumers.py) only makes it happen sooner.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agentops.agents.selectors import agent_list_startable
from agentops.api import MAX_QUERY_INT
from agentops.audit.services import Actor
from agentops.keyset import InvalidCursor
from agentops.pages import page_login_required

from . import services
from .errors import RunError
from .dashboard import dashboard_get
from .forms import RunStartForm
from .journal_view import prompt_for_step
from .models import Run, RunOutcome, RunStatus
from .selectors import run_filter_choices, run_get_for_user, run_list, run_waiting_on
from .timeline import parse_after, parse_pending, timeline_page

RUNS_PER_PAGE = 50
CANCELLABLE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


# -- access ------------------------------------------------------------------------------------


def _principal(request):
    principal = request.principal
    if not principal:
        raise PermissionDenied("You are not a member of any tenant.")
    return principal


def _run_or_404(request, run_id) -> Run:
    run = run_get_for_user(principal=_principal(request), run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


def _require(request, permission: str) -> None:
    if not _principal(request).can(permission):
        raise PermissionDenied(f"Your role does not allow this ({permission}).")


def _partial_or_page(request, partial: str, page: str, context: dict):
    """The partial for an HTMX swap, the whole page otherwise (history restores want the page)."""
    wants_partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, partial if wants_partial else page, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# -- runs list ---------------------------------------------------------------------------------


class RunFilterForm(forms.Form):
    """The runs filter. Choices come from lists the page loads anyway, so validating costs no query."""

    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "words of input or output"}))
    agent = forms.ChoiceField(required=False)
    version = forms.IntegerField(required=False, min_value=1, max_value=MAX_QUERY_INT, label="Version",
                                 widget=forms.NumberInput(attrs={"placeholder": "any", "size": 4}))
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *RunOutcome.choices])
    user = forms.ChoiceField(required=False, label="Started by or for")
    thread = forms.CharField(required=False, max_length=200, label="Thread")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, agents, users):
        super().__init__(data)
        self.fields["agent"].choices = [("", "Any agent"), *((a.slug, a.slug) for a in agents)]
        self.fields["user"].choices = [("", "Anyone"), *((str(u.pk), u.get_username()) for u in users)]

    def filters(self) -> dict:
        """The valid, non-empty filters as `run_list` arguments; invalid ones are ignored."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


@page_login_required
@require_GET
def run_list_page(request):
    """The runs, newest first, a page at a time by cursor (`?cursor=`): no count, no offset, so
    the hundredth page costs what the first does."""
    principal = _principal(request)
    choices = run_filter_choices(principal=principal)
    form = RunFilterForm(request.GET, **choices)
    filters = form.filters()
    runs = run_list(principal=principal, **filters)
    cursor, notice = None, ""
    try:
        cursor = runs.cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    except InvalidCursor as error:  # an altered link: the newest runs, saying why
        notice = error.message
    page = runs.page(cursor=cursor, size=RUNS_PER_PAGE)
    context = {"nav": "runs", "form": form, "page": page, "filtered": bool(filters), "notice": notice,
               "older": _page_link(request, page.next), "newer": _page_link(request, page.previous),
               "can_start": principal.can("run_agents")}
    return _partial_or_page(request, "runs/_runs_table.html", "runs/runs.html", context)


def _page_link(request, cursor) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor.encode()
    return f"?{query.urlencode()}"


# -- trace viewer ------------------------------------------------------------------------------


def _header(request, run: Run) -> dict:
    principal = _principal(request)
    return {
        "run": run,
        "waiting": run_waiting_on(run=run),
        "can_cancel": principal.can("run_agents") and run.status in CANCELLABLE,
        "can_replay": principal.can("run_agents"),
        # A finished run can become an eval case (the form lives in evals, linked by URL name).
        "can_add_to_eval": principal.can("run_agents") and run.is_finished,
        "replay_key": uuid.uuid4().hex,
        "can_retry": principal.can("resolve_runs") and run.status == RunStatus.FAILED,
        "can_resolve": principal.can("resolve_runs"),
        "socket": bool(settings.REDIS_URL),
    }


@page_login_required
@require_GET
def run_trace(request, run_id):
    run = _run_or_404(request, run_id)
    context = {"nav": "runs", **_header(request, run), **timeline_page(run=run)}
    return render(request, "runs/trace.html", context)


@page_login_required
@require_GET
def run_steps(request, run_id):
    """The catch-up request: steps after `?after=<seq>` as rows to append, plus (out of band) the
    pending steps that changed, the header, the time scale and the next tail. Only newer steps
    are appended, so asking twice or after a reconnect never duplicates a row."""
    run = _run_or_404(request, run_id)
    shown_status = request.GET.get("status", "")
    timeline = timeline_page(
        run=run, after=parse_after(request.GET.get("after")), pending=parse_pending(request.GET.get("pending", ""))
    )
    context = {**_header(request, run), **timeline, "status_changed": shown_status != run.status}
    return render(request, "runs/_steps_update.html", context)


@page_login_required
@require_GET
def run_timeline(request, run_id):
    """A run's first page of steps, to embed under the parent's child step (not live)."""
    run = _run_or_404(request, run_id)
    context = {"run": run, "embedded": True, **timeline_page(run=run, embedded=True)}
    return render(request, "runs/_timeline.html", context)


@page_login_required
@require_GET
def step_prompt(request, run_id, seq: int):
    """The full prompt of a model step, rebuilt from the delta journal."""
    run = _run_or_404(request, run_id)
    prompt = prompt_for_step(run=run, seq=seq)
    if prompt is None:
        raise Http404("No model call with that number in this run.")
    context = {"nav": "runs", "run": run, "seq": seq, "prompt": prompt, "added": sum(m.added for m in prompt)}
    return _partial_or_page(request, "runs/_prompt.html", "runs/prompt.html", context)


# -- starting runs -----------------------------------------------------------------------------


@page_login_required
@require_http_methods(["GET", "POST"])
def run_start(request):
    """The "Run agent" form: a run started through the service the API uses, then its trace."""
    principal = _principal(request)
    _require(request, "run_agents")
    initial = {"agent": request.GET.get("agent", ""), "idempotency_key": uuid.uuid4().hex}
    agents = agent_list_startable(tenant=principal.tenant, user=principal.user)
    form = RunStartForm(request.POST or None, agents=agents, initial=initial)
    refused = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run, _ = services.run_create(
                principal=principal, agent_slug=data["agent"], input=data["run_input"], thread=data["thread"],
                version=data["version"], idempotency_key=data["idempotency_key"] or None,
            )
        except RunError as error:
            form.add_error(None, error.message)
            refused = error.code == "agent_restricted"
        else:
            return redirect("runs:trace", run_id=run.pk)
    status = 403 if refused else 400 if form.errors else 200
    return render(request, "runs/start.html", {"nav": "runs", "form": form}, status=status)


@page_login_required
@require_POST
def run_replay(request, run_id):
    """Start the run's agent again on its input: `version=pinned` with the version it ran, else
    the current one. One key per button of a rendered form, so a double click starts one run."""
    run = _run_or_404(request, run_id)
    _require(request, "run_agents")
    pinned = request.POST.get("version") == "pinned"
    key = request.POST.get("idempotency_key", "")[:64]
    key = f"replay:{key}:{'pinned' if pinned else 'current'}" if key else None
    try:
        replay, _ = services.run_replay(principal=_principal(request), run=run, pinned=pinned, idempotency_key=key)
    except RunError as error:
        messages.error(request, error.message)
        return redirect("runs:trace", run_id=run.pk)
    messages.success(request, f"Replay of run {str(run.pk)[:8]} started.")
    return redirect("runs:trace", run_id=replay.pk)


# -- actions -----------------------------------------------------------------------------------


def _act(request, run: Run, action, done: str):
    """Call an engine service; a refusal (RunError) becomes a readable message, not an error page."""
    try:
        action(Actor.for_user(request.user))
    except RunError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("runs:trace", run_id=run.pk)


@page_login_required
@require_POST
def run_cancel(request, run_id):
    run = _run_or_404(request, run_id)
    _require(request, "run_agents")
    return _act(request, run, lambda actor: services.run_cancel(run=run, actor=actor), "Cancellation requested.")


@page_login_required
@require_POST
def run_retry(request, run_id):
    run = _run_or_404(request, run_id)
    _require(request, "resolve_runs")
    return _act(request, run, lambda actor: services.run_retry(run=run, actor=actor), "The run was queued again.")


RESOLVE_DONE = {
    "retry": "The tool call will be retried.",
    "mark_done": "The step was marked done; the run continues.",
    "fail": "The step was marked failed; the run continues.",
}


@page_login_required
@require_POST
def step_resolve(request, run_id, seq: int):
    """Settle an in-doubt step: retry it, mark it done with an output (JSON), or fail it."""
    run = _run_or_404(request, run_id)
    _require(request, "resolve_runs")
    action = request.POST.get("action", "")
    output = None
    if action == "mark_done":
        try:
            output = json.loads(request.POST.get("output") or "null")
        except ValueError as error:
            messages.error(request, f"The output is not valid JSON: {error}")
            return redirect("runs:trace", run_id=run.pk)
    return _act(
        request, run,
        lambda actor: services.step_resolve_in_doubt(run=run, seq=seq, action=action, output=output, actor=actor),
        RESOLVE_DONE.get(action, "Done."),
    )


# -- dashboard ---------------------------------------------------------------------------------


@page_login_required
@require_GET
def dashboard(request):
    """Usage, cost and outcomes of the tenant's runs over `?days=7|14|30` UTC days (default 14).

    The period switch swaps only the content partial; its charts are drawn again
    (static/js/dashboard_charts.js). Eleven queries besides the page's own (runs/dashboard.py).
    """
    principal = _principal(request)
    _require(request, "view")
    context = {"nav": "dashboard", "dash": dashboard_get(principal=principal, days=request.GET.get("days"))}
    return _partial_or_page(request, "runs/_dash_content.html", "runs/dashboard.html", context)
