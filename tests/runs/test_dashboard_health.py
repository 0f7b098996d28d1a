"""The dashboard's error rate and error codes, pending approvals and time to decision, and the
series its charts draw: each equal to what is counted by hand on seeded data of several agents,
days, statuses and two tenants."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalStatus
from runs.dashboard import dashboard_get
from runs.models import ModelCallRollup, RunRollup, RunStatus, StepStatus, WaitingReason
from runs.rollups import rollups_rebuild, run_rollups_add
from tests.factories import AgentFactory
from tests.runs.test_dashboard import days_ago, principal_of, run_on, usage
from tests.support.runs_journal import add_model_call, make_run

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


@pytest.fixture
def principal(operator, tenant):
    return principal_of(operator, tenant)


@pytest.fixture
def agents(tenant, agent):
    return agent, AgentFactory(tenant=tenant, slug="billing")


@pytest.fixture
def failures(agents, other_tenant):
    """Failed runs by error code over three days and two agents; the other tenant fails too."""
    support, billing = agents
    for back, agent, code in [(0, support, "model_timeout"), (1, support, "model_timeout"),
                              (1, billing, "tool_failed"), (2, billing, "model_timeout"), (2, support, None)]:
        run_on(agent, days_ago(back, TODAY), RunStatus.FAILED, error={"code": code} if code else None)
    for back in range(3):
        run_on(support, days_ago(back, TODAY), RunStatus.SUCCEEDED)
    run_on(billing, TODAY, RunStatus.CANCELLED)
    foreign = AgentFactory(tenant=other_tenant, slug="support")
    run_on(foreign, TODAY, RunStatus.FAILED, error={"code": "foreign_code"})


def test_error_codes_are_counted_per_code_most_frequent_first(principal, failures):
    dash = dashboard_get(principal=principal, days=7)
    assert [(e.code, e.runs) for e in dash.errors] == [("model_timeout", 3), ("(none)", 1), ("tool_failed", 1)]


def test_the_error_rate_is_failed_runs_over_runs_that_ended_either_way(principal, failures):
    # 5 failed, 3 succeeded; the cancelled run is left out.
    assert dashboard_get(principal=principal, days=7).runs.error_percent == pytest.approx(5 / 8 * 100)


def test_rebuilt_rollups_keep_the_error_codes(principal, failures, tenant):
    before = sorted(RunRollup.objects.filter(tenant=tenant).values_list("outcome", "error_code", "runs"))
    rollups_rebuild(tenant_ids=[tenant.pk])
    after = sorted(RunRollup.objects.filter(tenant=tenant).values_list("outcome", "error_code", "runs"))
    assert after == before and ("failed", "tool_failed", 1) in after


def request(agent, seq, *, created_ago, status=ApprovalStatus.PENDING, decided_after=None):
    run = run_on(agent, TODAY, RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    now = timezone.now()
    created = now - created_ago
    approval = ApprovalRequest.objects.create(tenant=agent.tenant, run=run, agent=agent, step_seq=seq,
                                              title="Refund", proposed_hash="-", status=status)
    decided = created + decided_after if decided_after is not None else None
    ApprovalRequest.objects.filter(pk=approval.pk).update(created_at=created, decided_at=decided)
    return approval


def test_pending_approvals_their_oldest_and_median_age(principal, agents):
    minutes = [5, 30, 90, 240]
    for seq, ago in enumerate(minutes, start=1):
        request(agents[seq % 2], seq, created_ago=dt.timedelta(minutes=ago))

    pending = dashboard_get(principal=principal).approvals.pending

    assert pending.open == 4
    assert pending.oldest == pytest.approx(dt.timedelta(minutes=240), abs=dt.timedelta(seconds=5))
    # Nearest rank: the 2nd youngest of 4.
    assert pending.median == pytest.approx(dt.timedelta(minutes=30), abs=dt.timedelta(seconds=5))


def test_time_to_decision_p50_and_p95_of_the_period(principal, agents, other_tenant):
    waits = [1, 2, 3, 4, 5, 6, 7, 8, 9, 60]  # minutes, decided in the period
    for seq, wait in enumerate(waits, start=1):
        request(agents[0], seq, created_ago=dt.timedelta(hours=2), decided_after=dt.timedelta(minutes=wait),
                status=ApprovalStatus.APPROVED if seq % 3 else ApprovalStatus.REJECTED)
    request(agents[1], 20, created_ago=dt.timedelta(days=40), decided_after=dt.timedelta(minutes=1),
            status=ApprovalStatus.APPROVED)  # decided before the period
    request(agents[1], 21, created_ago=dt.timedelta(hours=1), decided_after=dt.timedelta(minutes=1),
            status=ApprovalStatus.EXPIRED)  # not a decision
    foreign = AgentFactory(tenant=other_tenant, slug="support")
    request(foreign, 1, created_ago=dt.timedelta(hours=1), decided_after=dt.timedelta(hours=50),
            status=ApprovalStatus.APPROVED)

    decisions = dashboard_get(principal=principal, days=7).approvals.decisions

    assert decisions.resolved == 10
    assert decisions.p50 == dt.timedelta(minutes=5)  # rank ceil(0.5 × 10) = 5
    assert decisions.p95 == dt.timedelta(minutes=60)  # rank ceil(0.95 × 10) = 10


def test_the_charts_series_are_the_days_statuses_agents_and_models(principal, agents):
    support, billing = agents
    usage(support, TODAY, cost="0.50", tokens_in=1000, tokens_out=100)
    usage(billing, TODAY, cost="0.25", tokens_in=400, tokens_out=40)
    usage(support, days_ago(2, TODAY), cost="1.00", tokens_in=2000, tokens_out=200)
    run_on(support, TODAY, RunStatus.SUCCEEDED)
    run_on(support, TODAY, RunStatus.FAILED)
    run_on(billing, days_ago(1, TODAY), RunStatus.WAITING, waiting_reason=WaitingReason.TIMER)

    charts = dashboard_get(principal=principal, days=7).charts()

    assert charts["days"]["labels"][-1] == TODAY.isoformat() and len(charts["days"]["labels"]) == 7
    assert charts["days"]["cost"][-1] == 0.75 and charts["days"]["cost"][-3] == 1.0
    assert charts["days"]["tokens"][-1] == 1540 and sum(charts["days"]["tokens"]) == 1540 + 2200
    statuses = dict(zip(charts["statuses"]["labels"], charts["statuses"]["runs"]))
    assert (statuses["Succeeded"], statuses["Failed"], statuses["Waiting"]) == (1, 1, 1)
    assert dict(zip(charts["agents"]["labels"], charts["agents"]["cost"])) == {"support": 1.5, "billing": 0.25}


def test_the_page_shows_the_charts_and_the_figures_in_tables(client, operator, principal, failures):
    client.force_login(operator)
    page = client.get(reverse("dashboard"), {"days": "7"}).content.decode()

    assert page.count("<canvas data-chart=") == 4 and 'id="dash-chart-data"' in page
    assert "vendor/chart.umd.min.js" in page
    assert '<td class="mono">model_timeout</td><td class="num">3</td>' in page
    assert "62.5 %" in page  # 5 of 8 ended runs failed


def test_model_calls_are_rolled_up_at_the_run_end_and_rebuilt_alike(agent, tenant):
    run = make_run(agent, status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    add_model_call(run, 1, [], duration_ms=900)
    add_model_call(run, 2, [], duration_ms=3000, status=StepStatus.FAILED)
    run_rollups_add(run.pk)
    rows = lambda: sorted(ModelCallRollup.objects.filter(tenant=tenant).values_list(  # noqa: E731
        "model", "calls", "errors", "lt_1000ms", "lt_5000ms", "duration_ms"))

    added = rows()
    rollups_rebuild(tenant_ids=[tenant.pk])

    assert added == [("gpt-4o-mini", 2, 1, 1, 1, pytest.approx(3900))]
    assert rows() == added
    run_rollups_add(run.pk, sign=-1)  # a retry takes the run back out
    assert rows() == [("gpt-4o-mini", 0, 0, 0, 0, 0)]
