"""The dashboard: usage per UTC day and agent from DailyUsage, run outcomes from the rollups and
the unfinished runs, what waits now, tenant isolation, the page and its HTMX period switch,
constant queries. The figures against a direct aggregation of runs and steps are checked in
test_dashboard_rollups.py."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agentops.tenancy.principal import Principal
from approvals.models import ApprovalRequest, ApprovalStatus
from runs.dashboard import RunOutcomes, dashboard_get, period_for, usage_by_day_list
from runs.models import FINISHED_STATUSES, DailyUsage, Run, RunStatus, WaitingReason
from runs.rollups import run_rollups_add
from tests.factories import AgentFactory
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 3, 20)


def principal_of(user, tenant):
    return Principal(tenant=tenant, user=user, membership=user.memberships.get(tenant=tenant))


def usage(agent, day, *, calls=1, tokens_in=100, tokens_out=10, cost="0.01"):
    return DailyUsage.objects.create(tenant=agent.tenant, agent=agent, day=day, model_calls=calls,
                                     tokens_in=tokens_in, tokens_out=tokens_out, cost=Decimal(cost))


def run_on(agent, day, status=RunStatus.SUCCEEDED, **fields):
    """A run created at noon UTC of `day`; an ended one ends a second later and is rolled up as
    the engine does in the transaction that ends it."""
    run = make_run(agent, status=status, **fields)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)
    ended = noon + dt.timedelta(seconds=1) if status in FINISHED_STATUSES else None
    Run.objects.filter(pk=run.pk).update(created_at=noon, finished_at=ended)
    if ended:
        run_rollups_add(run.pk)
    return run


def days_ago(n: int, today=TODAY) -> dt.date:
    return today - dt.timedelta(days=n)


@pytest.fixture
def principal(operator, tenant):
    return principal_of(operator, tenant)


@pytest.fixture
def browser(client, operator):
    client.force_login(operator)
    return client


# -- the period ----------------------------------------------------------------------------------


def test_period_is_the_last_n_utc_days_today_included():
    period = period_for("7", today=TODAY)

    assert (period.days, period.first, period.last) == (7, days_ago(6), TODAY)
    assert period.dates()[0] == days_ago(6) and period.dates()[-1] == TODAY and len(period.dates()) == 7
    assert period.start == dt.datetime(2025, 3, 14, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("days", [None, "", "9", "-7", "all"])
def test_an_unknown_period_falls_back_to_14_days(days):
    assert period_for(days, today=TODAY).days == 14


# -- usage per day and agent ---------------------------------------------------------------------


def test_usage_per_day_sums_the_agents_and_fills_days_without_usage_with_zeros(principal, tenant, agent):
    billing = AgentFactory(tenant=tenant, slug="billing")
    usage(agent, TODAY, calls=2, tokens_in=200, tokens_out=20, cost="0.02")
    usage(billing, TODAY, calls=3, tokens_in=300, tokens_out=30, cost="0.03")
    usage(agent, days_ago(2), calls=1, tokens_in=50, tokens_out=5, cost="0.005")

    days = usage_by_day_list(principal=principal, period=period_for(7, today=TODAY))

    assert [d.day for d in days] == [days_ago(n) for n in range(6, -1, -1)]
    by_day = {d.day: d.usage for d in days}
    today = by_day[TODAY]
    assert (today.model_calls, today.tokens_in, today.tokens_out, today.cost) == (5, 500, 50, Decimal("0.05"))
    assert by_day[days_ago(2)].cost == Decimal("0.005")
    assert [d.usage.cost for d in days].count(Decimal(0)) == 5


def test_usage_before_the_period_is_not_counted(principal, agent):
    usage(agent, days_ago(7), cost="5")
    usage(agent, days_ago(6), cost="1")

    dash = dashboard_get(principal=principal, days=7, today=TODAY)

    assert dash.usage.cost == Decimal("1")
    assert dash.days[0].usage.cost == Decimal("1")


def test_totals_add_up_usage_of_every_agent_and_day(principal, tenant, agent):
    billing = AgentFactory(tenant=tenant, slug="billing")
    usage(agent, TODAY, calls=2, tokens_in=200, tokens_out=20, cost="0.02")
    usage(billing, days_ago(3), calls=3, tokens_in=300, tokens_out=30, cost="0.03")

    dash = dashboard_get(principal=principal, days=14, today=TODAY)

    assert (dash.usage.model_calls, dash.usage.tokens_in, dash.usage.tokens_out) == (5, 500, 50)
    assert dash.usage.cost == Decimal("0.05")


def test_per_agent_rows_sum_usage_count_runs_and_average_the_cost_per_run(principal, tenant, agent):
    billing = AgentFactory(tenant=tenant, slug="billing")
    usage(agent, TODAY, calls=4, tokens_in=400, tokens_out=40, cost="0.06")
    usage(agent, days_ago(1), calls=2, tokens_in=200, tokens_out=20, cost="0.03")
    usage(billing, TODAY, calls=1, tokens_in=10, tokens_out=1, cost="0.001")
    for status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.FAILED):
        run_on(agent, TODAY, status)

    agents = {a.slug: a for a in dashboard_get(principal=principal, days=7, today=TODAY).agents}

    support = agents["support"]
    assert (support.usage.model_calls, support.usage.tokens_in, support.usage.tokens_out) == (6, 600, 60)
    assert support.usage.cost == Decimal("0.09")
    assert (support.runs.started, support.runs.succeeded, support.runs.failed) == (3, 2, 1)
    assert support.runs.success_rate == pytest.approx(2 / 3)
    assert support.cost_per_run == Decimal("0.03")
    assert agents["billing"].runs.started == 0 and agents["billing"].cost_per_run is None


def test_agents_are_listed_costliest_first(principal, tenant, agent):
    cheap = AgentFactory(tenant=tenant, slug="cheap")
    usage(cheap, TODAY, cost="0.001")
    usage(agent, TODAY, cost="0.5")
    idle = AgentFactory(tenant=tenant, slug="idle")
    run_on(idle, TODAY)

    assert [a.slug for a in dashboard_get(principal=principal, today=TODAY).agents] == ["support", "cheap", "idle"]


def test_an_agent_without_usage_or_runs_in_the_period_is_left_out(principal, tenant, agent):
    usage(agent, TODAY)
    AgentFactory(tenant=tenant, slug="dormant")

    assert [a.slug for a in dashboard_get(principal=principal, today=TODAY).agents] == ["support"]


# -- run outcomes --------------------------------------------------------------------------------


def test_run_totals_count_runs_created_in_the_period_by_their_status_now(principal, agent):
    for status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.FAILED,
                   RunStatus.CANCELLED, RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.WAITING):
        run_on(agent, days_ago(1), status)
    run_on(agent, days_ago(7), RunStatus.FAILED)  # the day before a 7-day period

    runs = dashboard_get(principal=principal, days=7, today=TODAY).runs

    assert (runs.started, runs.succeeded, runs.failed, runs.cancelled, runs.waiting, runs.active) == (8, 3, 1, 1, 1, 2)
    assert runs.success_rate == pytest.approx(0.75)


def test_success_rate_leaves_out_cancelled_and_unfinished_runs():
    outcomes = RunOutcomes()
    counts = {RunStatus.SUCCEEDED: 9, RunStatus.FAILED: 1, RunStatus.CANCELLED: 5, RunStatus.RUNNING: 5}
    for status, n in counts.items():
        outcomes.count(status, n)

    assert outcomes.started == 20
    assert outcomes.success_rate == pytest.approx(0.9)
    assert outcomes.success_percent == pytest.approx(90)


def test_success_rate_is_unknown_until_a_run_succeeds_or_fails():
    outcomes = RunOutcomes()
    outcomes.count(RunStatus.CANCELLED, 2)
    outcomes.count(RunStatus.WAITING, 1)

    assert outcomes.success_rate is None and outcomes.success_percent is None


# -- what waits now ------------------------------------------------------------------------------


def test_waiting_runs_are_counted_by_reason_whenever_they_started(principal, agent):
    run_on(agent, days_ago(90, timezone.now().date()), RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    run_on(agent, timezone.now().date(), RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    run_on(agent, timezone.now().date(), RunStatus.WAITING, waiting_reason=WaitingReason.IN_DOUBT)
    run_on(agent, timezone.now().date(), RunStatus.SUCCEEDED)

    dash = dashboard_get(principal=principal, days=7)

    assert [(g.reason, g.count) for g in dash.waiting] == [("approval", 2), ("in_doubt", 1)]
    assert dash.waiting_now == 3


def test_pending_approvals_are_those_of_the_tenant_still_pending(principal, agent):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    for seq, status in enumerate((ApprovalStatus.PENDING, ApprovalStatus.PENDING, ApprovalStatus.APPROVED), start=1):
        ApprovalRequest.objects.create(tenant=agent.tenant, run=run, agent=agent, step_seq=seq, title="Refund",
                                       proposed_hash="-", status=status)

    assert dashboard_get(principal=principal).pending_approvals == 2


# -- tenant isolation ----------------------------------------------------------------------------


def test_another_tenants_usage_runs_and_approvals_are_never_counted(principal, agent, other_tenant):
    foreign_agent = AgentFactory(tenant=other_tenant, slug="support")
    today = timezone.now().date()
    usage(agent, today, calls=1, cost="0.01")
    usage(foreign_agent, today, calls=100, cost="99")
    run_on(agent, today, RunStatus.SUCCEEDED)
    foreign_run = run_on(foreign_agent, today, RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    ApprovalRequest.objects.create(tenant=other_tenant, run=foreign_run, agent=foreign_agent, step_seq=1,
                                   title="Refund", proposed_hash="-")

    dash = dashboard_get(principal=principal)

    assert (dash.usage.model_calls, dash.usage.cost) == (1, Decimal("0.01"))
    assert dash.days[-1].usage.cost == Decimal("0.01")
    assert dash.runs.started == 1 and dash.waiting == [] and dash.pending_approvals == 0
    assert [(a.slug, a.usage.cost) for a in dash.agents] == [("support", Decimal("0.01"))]


def test_the_page_of_one_tenant_does_not_show_anothers_cost(browser, agent, other_tenant):
    usage(agent, timezone.now().date(), cost="1.25")
    usage(AgentFactory(tenant=other_tenant, slug="globex-bot"), timezone.now().date(), cost="777")

    html = browser.get(reverse("dashboard")).content.decode()

    assert "$1.25" in html
    assert "$777" not in html and "globex-bot" not in html


# -- the chart -----------------------------------------------------------------------------------


def test_bars_are_drawn_against_a_round_top_of_scale(principal, agent):
    usage(agent, TODAY, cost="0.0042")
    usage(agent, days_ago(1), cost="0.0021")

    dash = dashboard_get(principal=principal, days=7, today=TODAY)

    assert dash.scale == Decimal("0.005")
    assert [round(d.height, 1) for d in dash.days[-3:]] == [0.0, 42.0, 84.0]


def test_without_usage_the_chart_has_no_scale_and_empty_bars(principal):
    dash = dashboard_get(principal=principal, days=30, today=TODAY)

    assert dash.scale == 0 and len(dash.days) == 30 and all(d.height == 0 for d in dash.days)


def test_a_long_period_labels_every_third_day_counting_back_from_today(principal):
    days = dashboard_get(principal=principal, days=30, today=TODAY).days

    assert days[-1].labelled and not days[-2].labelled and days[-4].labelled
    assert all(d.labelled for d in dashboard_get(principal=principal, days=14, today=TODAY).days)


# -- the page ------------------------------------------------------------------------------------


def test_the_page_shows_the_figures_of_the_period_for_a_member(browser, agent):
    today = timezone.now().date()
    usage(agent, today, calls=12, tokens_in=12345, tokens_out=678, cost="0.0123")
    run_on(agent, today, RunStatus.SUCCEEDED)
    run_on(agent, today, RunStatus.FAILED)

    response = browser.get(reverse("dashboard"))
    html = response.content.decode()

    assert response.status_code == 200
    assert "Last 14 days" in html and "days are UTC dates" in html
    assert "12,345" in html and "678" in html and "$0.0123" in html
    assert "50%" in html  # success rate
    assert 'href="/runs/?agent=support"' in html
    first = today - dt.timedelta(days=13)
    assert f'href="/runs/?agent=support&amp;date_from={first:%Y-%m-%d}"' in html  # the runs counted
    assert f"{today:%a %b} {today.day}, {today.year} (UTC): $0.0123 · 12 model calls" in html  # the bar's title


def test_pending_approvals_link_to_the_inbox(browser, agent):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    ApprovalRequest.objects.create(tenant=agent.tenant, run=run, agent=agent, step_seq=1, title="Refund",
                                   proposed_hash="-")

    html = browser.get(reverse("dashboard")).content.decode()

    assert 'class="dash-pending some" href="/inbox/"' in html
    assert "Waiting · approval" in html


def test_anonymous_visitors_are_sent_to_the_login_form(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_a_user_without_a_tenant_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))

    assert client.get(reverse("dashboard")).status_code == 403


def test_the_htmx_period_switch_gets_only_the_content_partial(browser, agent):
    usage(agent, timezone.now().date() - dt.timedelta(days=20), cost="3.5")

    response = browser.get(reverse("dashboard"), {"days": "30"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()

    assert html.lstrip().startswith('<div id="dash-content"')
    assert "<html" not in html and "<h1>" not in html
    assert "Last 30 days" in html and "$3.50" in html
    assert "HX-Request" in response.headers["Vary"]


def test_the_14_day_page_does_not_count_usage_20_days_old(browser, agent):
    usage(agent, timezone.now().date() - dt.timedelta(days=20), cost="3.5")

    assert browser.get(reverse("dashboard")).context["dash"].usage.cost == 0


def test_dashboard_selectors_run_eleven_queries(principal, agent, django_assert_num_queries):
    usage(agent, TODAY)
    run_on(agent, TODAY)

    with django_assert_num_queries(11):
        dashboard_get(principal=principal, today=TODAY)


def test_the_page_reads_the_same_number_of_queries_for_2_and_50_agents(browser, tenant):
    today = timezone.now().date()

    def seed(first: int, last: int) -> None:
        for n in range(first, last):
            agent = AgentFactory(tenant=tenant, slug=f"agent-{n:02}")
            for back in range(3):
                usage(agent, today - dt.timedelta(days=back))
            run_on(agent, today, RunStatus.SUCCEEDED)
            run_on(agent, today, RunStatus.WAITING, waiting_reason=WaitingReason.TIMER)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("dashboard")).status_code == 200
        return len(captured)

    seed(0, 2)
    few = queries_for_page()
    seed(2, 50)

    assert queries_for_page() == few
