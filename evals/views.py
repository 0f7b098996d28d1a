"""Evaluation pages, mounted at /evals/: the suites with their latest pass rate, a suite's history
across agent versions (chart, table, case × version matrix), an eval run's results and its
comparison with the baseline (polled while it runs), and "Add to eval suite" from a run's trace.

Every page reads a fixed number of queries (tests/evals/test_pages.py counts them).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agentops.audit.services import Actor
from agentops.pages import page_login_required
from runs.selectors import run_get_for_user

from . import stats
from .dashboard import eval_run_results, suite_history, suite_overview
from .forms import RUN_FORM_BASELINES, CaseFromRunForm, SuiteRunForm
from .from_run import case_proposal, run_tool_names
from .selectors import eval_run_get_for_user, eval_suite_get, suite_versions, tenant_suites
from .errors import EvalError
from .services import eval_case_file, run_eval

# Who may build suites and start eval runs: whoever may run agents (an eval run starts runs).
WRITE_PERMISSION = "run_agents"


def _principal(request):
    principal = request.principal
    if not principal:
        raise PermissionDenied("You are not a member of any tenant.")
    return principal


def _require_write(principal) -> None:
    if not principal.can(WRITE_PERMISSION):
        raise PermissionDenied(f"Your role does not allow this ({WRITE_PERMISSION}).")


def _suite_or_404(request, suite_id):
    suite = eval_suite_get(principal=_principal(request), suite_id=suite_id)
    if suite is None:
        raise Http404("No such suite.")
    return suite


def _partial_or_page(request, partial: str, page: str, context: dict):
    """The partial for an HTMX swap (a poll), the whole page otherwise."""
    wants_partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, partial if wants_partial else page, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@page_login_required
@require_GET
def index(request):
    principal = _principal(request)
    return render(request, "evals/index.html", {"nav": "evals", "rows": suite_overview(principal=principal)})


@page_login_required
@require_GET
def suite_page(request, suite_id: int):
    suite = _suite_or_404(request, suite_id)
    history = suite_history(suite=suite)
    can_run = _principal(request).can(WRITE_PERMISSION)
    context = {"nav": "evals", "suite": suite, "history": history, "chart_points": history.chart_points(),
               "run_form": SuiteRunForm(versions=suite_versions(suite=suite), baselines=history.recent) if can_run
               else None}
    return render(request, "evals/suite.html", context)


@page_login_required
@require_POST
def suite_run(request, suite_id: int):
    """Run suite: an eval run queued through the service the API uses, then its page."""
    principal = _principal(request)
    _require_write(principal)
    suite = _suite_or_404(request, suite_id)
    form = SuiteRunForm(request.POST, versions=suite_versions(suite=suite),
                        baselines=suite.eval_runs.select_related("agent_version").order_by("-created_at", "-pk")[:RUN_FORM_BASELINES])
    if not form.is_valid():
        messages.error(request, "; ".join(error for errors in form.errors.values() for error in errors))
        return redirect("evals:suite", suite_id=suite.pk)
    data = form.cleaned_data
    try:
        eval_run = run_eval(principal=principal, suite=suite, version=data["version"], repeat=data["repeat"],
                            baseline=data["baseline"] or None, label=data["label"])
    except EvalError as error:
        messages.error(request, error.message)
        return redirect("evals:suite", suite_id=suite.pk)
    messages.success(request, f"Eval run #{eval_run.pk} queued: {eval_run.total} run(s).")
    return redirect("evals:run", eval_run_id=eval_run.pk)


@page_login_required
@require_http_methods(["GET", "POST"])
def case_from_run(request, run_id):
    """The form that turns a finished run into a case, proposed from its journal and edited here;
    saved into a suite of the run's agent, or a new one, in one transaction."""
    principal = _principal(request)
    _require_write(principal)
    run = run_get_for_user(principal=principal, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    suites = list(tenant_suites(principal).filter(agent=run.agent).order_by("name"))
    proposal = case_proposal(run=run, tool_names=run_tool_names(run=run))
    initial = {"suite": suites[0].pk if suites else None, "name": proposal.name, "message": proposal.message,
               "input": proposal.input, "expected": proposal.expected if isinstance(proposal.expected, str) else "",
               "assertions": proposal.assertions}
    form = CaseFromRunForm(request.POST or None, initial=initial, suites=suites)
    if request.method == "POST" and form.is_valid():
        try:
            suite, case = eval_case_file(tenant=principal.tenant, agent=run.agent, suite=form.chosen_suite(),
                                         new_suite_name=form.cleaned_data["new_suite"].strip(),
                                         case=form.case(run=run), actor=Actor.for_user(request.user))
        except EvalError as error:
            form.add_error("new_suite" if error.code == "suite_exists" else "assertions", error.message)
        else:
            messages.success(request, f"Case “{case.name}” added to {suite.name}.")
            return redirect("evals:suite", suite_id=suite.pk)
    status = 400 if form.errors else 200
    return render(request, "evals/from_run.html", {"nav": "evals", "run": run, "form": form}, status=status)


@page_login_required
@require_GET
def eval_run_page(request, eval_run_id: int):
    """An eval run's results case by case, each with its assertions and its run's trace. While the
    eval run is queued or running, the page polls its own partial (HTMX) until it ends."""
    eval_run = eval_run_get_for_user(principal=_principal(request), eval_run_id=eval_run_id)
    if eval_run is None:
        raise Http404("No such eval run.")
    context = {"nav": "evals", "eval_run": eval_run, "results": eval_run_results(eval_run=eval_run),
               "changes": eval_run.summary.get("comparison", {})}
    context["change_counts"] = stats.change_counts(context["changes"])
    return _partial_or_page(request, "evals/_run_content.html", "evals/run.html", context)
