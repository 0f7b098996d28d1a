"""The dashboard in a real browser: an operator sees the figures of the tenant's usage, switches the
period without a reload, reads the tools' figures, and the screenshot the README shows
(docs/screenshots/dashboard.png)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest
from runs.models import FINISHED_STATUSES, DailyUsage, Run, RunStatus, StepStatus, WaitingReason
from runs.rollups import run_rollups_add
from tests.factories import AgentFactory
from tests.support.runs_journal import add_tool_call, make_run

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAME_DOCUMENT = "window.__sameDocument === true"  # survives only if the page never reloads

# Model calls per day back from today (UTC) for each agent; None: no row that day.
SUPPORT = [38, 44, None, 51, 47, 29, 33, 61, 55, 40, None, None, 36, 42, 58, 49, 30, 27, 45, 52]
BILLING = [12, 9, 15, None, 11, 14, 8, 10, None, 13, None, 9, 12, None, 10, 11]
NOTIFIER = [6, 5, 7, 4, None, 6, 5, 3, 6, 5]
TOKENS_IN, TOKENS_OUT = 1150, 96  # per model call
PRICE_IN, PRICE_OUT = Decimal("0.15"), Decimal("0.60")  # USD per million tokens


def seed_usage(agent, calls_per_day: list, today: dt.date) -> None:
    for back, calls in enumerate(calls_per_day):
        if calls is None:
            continue
        tokens_in, tokens_out = calls * TOKENS_IN, calls * TOKENS_OUT
        cost = (tokens_in * PRICE_IN + tokens_out * PRICE_OUT) / 1_000_000
        DailyUsage.objects.create(tenant=agent.tenant, agent=agent, day=today - dt.timedelta(days=back),
                                  model_calls=calls, tokens_in=tokens_in, tokens_out=tokens_out,
                                  cost=cost.quantize(Decimal("0.000001")))


def seed_runs(agent, outcomes: dict, *, every_hours: float, created_by=None) -> list[Run]:
    """Runs of `agent` by status, one every `every_hours` back from now, statuses interleaved;
    each made a lookup and a refund, and those that ended are rolled up as the engine does."""
    statuses = [status for status, n in outcomes.items() for _ in range(n)]
    statuses = statuses[::2] + statuses[1::2]
    now, runs = timezone.now(), []
    for number, status in enumerate(statuses):
        reason = WaitingReason.APPROVAL if status == RunStatus.WAITING else ""
        created = now - dt.timedelta(hours=number * every_hours)
        run = make_run(agent, status=status, waiting_reason=reason, created_by=created_by, started_at=created,
                       tokens_in=3 * TOKENS_IN, tokens_out=3 * TOKENS_OUT,
                       cost=(3 * TOKENS_IN * PRICE_IN + 3 * TOKENS_OUT * PRICE_OUT) / 1_000_000)
        ended = created + dt.timedelta(seconds=4 + number % 7 * 3) if status in FINISHED_STATUSES else None
        Run.objects.filter(pk=run.pk).update(created_at=created, finished_at=ended)
        add_tool_call(run, 1, "orders.lookup", duration_ms=120 + number * 15)
        add_tool_call(run, 2, "billing.refund", duration_ms=600 + number * 40,
                      status=StepStatus.FAILED if number % 5 == 4 else StepStatus.COMPLETED)
        if ended:
            run_rollups_add(run.pk)
        runs.append(run)
    return runs


@pytest.fixture
def usage(tenant, operator, agent):
    """Three agents with three weeks of usage, their runs, a pending approval and an in-doubt run."""
    today = timezone.now().date()
    billing = AgentFactory(tenant=tenant, slug="billing", name="Billing assistant")
    notifier = AgentFactory(tenant=tenant, slug="notifier", name="Customer notifier")
    seed_usage(agent, SUPPORT, today)
    seed_usage(billing, BILLING, today)
    seed_usage(notifier, NOTIFIER, today)
    support_runs = seed_runs(agent, {RunStatus.SUCCEEDED: 17, RunStatus.FAILED: 2, RunStatus.WAITING: 1},
                             every_hours=14, created_by=operator)
    seed_runs(billing, {RunStatus.SUCCEEDED: 8, RunStatus.FAILED: 1, RunStatus.CANCELLED: 1}, every_hours=30)
    seed_runs(notifier, {RunStatus.SUCCEEDED: 9, RunStatus.RUNNING: 1}, every_hours=20)
    waiting = next(run for run in support_runs if run.status == RunStatus.WAITING)
    ApprovalRequest.objects.create(tenant=tenant, run=waiting, agent_id=waiting.agent_id, step_seq=3,
                                   title="Support wants to refund $42", proposed_hash="-", tool_name="refund_order")
    make_run(notifier, status=RunStatus.WAITING, waiting_reason=WaitingReason.IN_DOUBT)
    return today


def expected(calls_per_day: list, days: int) -> tuple[int, Decimal]:
    calls = sum(c for c in calls_per_day[:days] if c)
    cost = sum(((c * TOKENS_IN * PRICE_IN + c * TOKENS_OUT * PRICE_OUT) / 1_000_000).quantize(Decimal("0.000001"))
               for c in calls_per_day[:days] if c)
    return calls, cost


def stat(page, label: str) -> str:
    return page.locator(".dash-stat", has=page.locator("dt", has_text=label)).locator("dd").inner_text()


def test_an_operator_sees_the_usage_and_switches_the_period_without_reload(logged_in_page, screenshot, usage):
    page = logged_in_page("olivia", "pw")
    page.goto("/dashboard/")
    page.evaluate("window.__sameDocument = true")

    calls, cost = 0, Decimal(0)
    for per_day in (SUPPORT, BILLING, NOTIFIER):
        agent_calls, agent_cost = expected(per_day, 14)
        calls, cost = calls + agent_calls, cost + agent_cost
    assert page.locator(".dash-range").inner_text().startswith("Last 14 days")
    assert stat(page, "Model calls") == f"{calls:,}"
    assert stat(page, "Cost") == f"${cost:.4f}"
    assert page.locator(".dash-day").count() == 14
    assert page.locator(".dash-day:not(:has(.has-cost))").count() == 1  # 10 days back: no model call
    assert page.locator(".dash-pending strong").inner_text() == "1"
    assert page.locator(".dash-agents tbody tr td:first-child a").first.inner_text() == "support"
    assert page.locator(".dash-tools tbody tr td:first-child").all_inner_texts() == ["billing.refund", "orders.lookup"]

    page.locator(".dash-periods a", has_text="30 days").click()
    page.wait_for_selector(".dash-periods a.active:has-text('30 days')")

    assert page.evaluate(SAME_DOCUMENT)
    assert "days=30" in page.url
    assert page.locator(".dash-day").count() == 30
    assert stat(page, "Model calls") == f"{sum(c for c in SUPPORT + BILLING + NOTIFIER if c):,}"
    screenshot(page, "dashboard", docs=True)


def test_the_charts_draw_and_draw_again_for_another_period(logged_in_page, screenshot, usage):
    page = logged_in_page("olivia", "pw")
    page.goto("/dashboard/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length === 4 && "
                           "[...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))")

    days = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=days]')).data.labels.length")
    statuses = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=statuses]'))"
                             ".data.datasets[0].data.reduce((a, b) => a + b, 0)")
    assert days == 14
    assert statuses == int(stat(page, "Runs started"))

    page.locator(".dash-periods a", has_text="30 days").click()
    page.wait_for_function("Chart.getChart(document.querySelector('canvas[data-chart=days]'))?.data.labels.length === 30")
    assert page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=agents]')).data.labels") == [
        "support", "billing", "notifier"]
    screenshot(page, "dashboard-charts", full_page=True)
