"""The runner: each case × repeat is a real run of the engine, scored when it ends; scripted
approval decisions are applied; a case that cannot finish is recorded, and the others go on."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agentops.tenancy.principal import Principal
from approvals.models import ApprovalRequest, ApprovalStatus
from evals.errors import EvalError
from evals.models import EvalResultStatus, EvalRun, EvalRunStatus
from evals.services import eval_run_advance, eval_run_wait, eval_runs_resume, run_eval
from runs.models import Run, RunStatus
from tests.factories import EvalCaseFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_case_runs_as_a_real_run_and_is_scored(principal, refund_suite):
    eval_run = run_eval(principal=principal, suite=refund_suite, repeat=2, start=False)

    eval_run = eval_run_wait(eval_run=eval_run, inline=True, timeout=60)

    assert eval_run.status == EvalRunStatus.SUCCEEDED
    assert (eval_run.done, eval_run.total) == (4, 4)
    results = list(eval_run.results.select_related("run", "case"))
    assert all(result.passed for result in results), [result.assertions for result in results]
    assert {result.run.status for result in results} == {RunStatus.SUCCEEDED}
    assert {result.run.metadata["eval"]["eval_run"] for result in results} == {eval_run.pk}
    assert eval_run.summary["pass_rate"] == 1.0 and eval_run.summary["flaky"] == 0


def test_scripted_decisions_decide_the_real_approval_requests(principal, refund_suite):
    eval_run = eval_run_wait(eval_run=run_eval(principal=principal, suite=refund_suite, start=False), inline=True)

    requests = {request.run.metadata["eval"]["case"]: request
                for request in ApprovalRequest.objects.filter(run__in=Run.objects.filter(tenant=refund_suite.tenant))}
    approved, rejected = (requests[case.pk] for case in refund_suite.cases.order_by("position"))
    assert (approved.status, rejected.status) == (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
    assert approved.decided_by is None and rejected.comment == "No refunds today."
    assert eval_run.summary["passed_cases"] == 2


def test_a_recorded_tool_result_is_served_instead_of_the_tool(principal, refund_suite):
    eval_run = eval_run_wait(eval_run=run_eval(principal=principal, suite=refund_suite, start=False), inline=True)

    result = eval_run.results.get(case__name="approved refund")
    refund = result.run.steps.get(kind="tool")
    assert refund.status == "completed" and refund.output == {"refund_id": "R-1"}  # nothing listens on port 9


def test_a_case_that_cannot_finish_is_an_error_and_the_suite_goes_on(principal, refund_suite):
    EvalCaseFactory(suite=refund_suite, name="no decision scripted", message="Refund order 1042", position=3)

    eval_run = eval_run_wait(eval_run=run_eval(principal=principal, suite=refund_suite, start=False), inline=True)

    stuck = eval_run.results.get(case__name="no decision scripted")
    assert stuck.status == EvalResultStatus.ERROR and stuck.error["code"] == "approval_unscripted"
    assert stuck.run.status == RunStatus.CANCELLED
    assert eval_run.status == EvalRunStatus.SUCCEEDED
    assert (eval_run.summary["passed_cases"], eval_run.summary["cases"]) == (2, 3)


def test_a_second_tenant_cannot_run_the_suite(principal, refund_suite, other_tenant, member):
    stranger = member("stranger", in_tenant=other_tenant)
    outsider = Principal(tenant=other_tenant, user=stranger, membership=stranger.memberships.get())

    with pytest.raises(EvalError):
        run_eval(principal=outsider, suite=refund_suite)


def test_an_eval_run_that_outlives_its_timeout_fails_and_cancels_its_runs(principal, refund_suite, settings):
    settings.EVAL_RUN_TIMEOUT_SECONDS = 0
    eval_run = run_eval(principal=principal, suite=refund_suite, start=False)

    assert eval_run_advance(eval_run_id=eval_run.pk) is True  # no worker here: its runs stay queued

    eval_run.refresh_from_db()
    assert eval_run.status == EvalRunStatus.FAILED and eval_run.error["code"] == "timeout"
    assert set(Run.objects.filter(tenant=refund_suite.tenant).values_list("status", flat=True)) == {
        RunStatus.CANCELLED}


def test_the_runs_list_filters_an_eval_runs_runs_and_only_in_its_tenant(principal, refund_suite, api, client_for,
                                                                         other_tenant):
    first = eval_run_wait(eval_run=run_eval(principal=principal, suite=refund_suite, start=False), inline=True)
    eval_run_wait(eval_run=run_eval(principal=principal, suite=refund_suite, start=False), inline=True)

    listed = api.get(f"/api/v1/runs/?eval_run={first.pk}").json()["results"]
    foreign = client_for(scopes=("read",), in_tenant=other_tenant).get(f"/api/v1/runs/?eval_run={first.pk}")

    assert sorted(run["id"] for run in listed) == sorted(str(r.run_id) for r in first.results.all())
    assert foreign.status_code == 200 and foreign.json()["results"] == []
    assert api.get("/api/v1/runs/?eval_run=zero").json()["error"]["code"] == "invalid"


def test_an_eval_run_whose_passes_stopped_is_resumed_and_a_moving_one_is_left_alone(principal, refund_suite):
    stalled = run_eval(principal=principal, suite=refund_suite, start=False)
    moving = run_eval(principal=principal, suite=refund_suite, start=False)
    eval_run_advance(eval_run_id=moving.pk)
    EvalRun.objects.filter(pk=stalled.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert eval_runs_resume() == [stalled.pk]
