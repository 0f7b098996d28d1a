"""The runs list in a real browser: previews, the amber "Succeeded with errors" marker, text search,
filters swapped in without a reload, and paging by cursor there and back."""

import datetime as dt

import pytest
from django.utils import timezone

from agentops.agents.models import AgentVersion
from runs.models import Run, RunStatus
from tests.support.runs_journal import make_run

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAME_DOCUMENT = "window.__sameDocument === true"  # survives only if the page never reloads


@pytest.fixture
def runs(operator, agent):
    """60 plain runs, then (newest) a refund the billing system refused and a failed run."""
    start = timezone.now() - dt.timedelta(hours=2)
    second = AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")

    def run(n, status=RunStatus.SUCCEEDED, **fields):
        made = make_run(agent, status=status, created_by=operator, **fields)
        Run.objects.filter(pk=made.pk).update(created_at=start + dt.timedelta(seconds=n))
        return made

    for n in range(60):
        run(n, input_preview=f"Where is my order {1000 + n}?", output_preview="It ships tomorrow.")
    refused = run(61, input_preview="Please refund order #1043", tool_errors=1, thread="t-refunds",
                  output_preview="Your refund of $100 is on its way.")
    Run.objects.filter(pk=refused.pk).update(agent_version=second)
    failed = run(62, status=RunStatus.FAILED, input_preview="Cancel my subscription",
                 output_preview="the model provider answered 503", error={"code": "x", "message": "503"})
    return {"refused": refused, "failed": failed}


def rows(page):
    return page.locator("#runs-table tbody tr")


def test_an_operator_searches_filters_and_pages_the_runs(logged_in_page, screenshot, runs):
    page = logged_in_page("olivia", "pw")
    page.goto("/runs/")
    page.evaluate("window.__sameDocument = true")

    first = rows(page).first
    assert "Cancel my subscription" in first.inner_text() and "503" in first.inner_text()
    refused = rows(page).nth(1)
    assert refused.locator(".badge").inner_text() == "Succeeded with errors"
    assert refused.locator(".badge").evaluate("e => getComputedStyle(e).color") == "rgb(230, 119, 0)"  # amber
    assert "⚠ 1 tool error" in refused.inner_text() and "Please refund order #1043" in refused.inner_text()
    screenshot(page, "runs-list-outcomes")

    assert rows(page).count() == 50
    page.locator("a[rel=next]").click()
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 12")
    assert "cursor=" in page.url and "Where is my order 1000?" in rows(page).last.inner_text()
    page.locator("a[rel=prev]").click()
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 50")
    assert "Cancel my subscription" in rows(page).first.inner_text()

    page.fill("input[name=q]", "refund")
    page.press("input[name=q]", "Enter")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 1")
    assert "Please refund order #1043" in rows(page).first.inner_text()

    page.fill("input[name=q]", "")
    page.select_option("select[name=status]", "succeeded_with_errors")
    page.wait_for_url(lambda url: "q=&" in url and "status=succeeded_with_errors" in url)
    assert rows(page).count() == 1 and "Please refund" in rows(page).first.inner_text()

    page.select_option("select[name=status]", "")
    page.fill("input[name=thread]", "t-refunds")
    page.press("input[name=thread]", "Enter")
    page.wait_for_url(lambda url: "status=&" in url and "thread=t-refunds" in url)
    assert rows(page).count() == 1 and "Please refund" in rows(page).first.inner_text()

    page.fill("input[name=thread]", "")
    page.select_option("select[name=agent]", "support")
    page.fill("input[name=version]", "2")
    page.press("input[name=version]", "Enter")
    page.wait_for_url(lambda url: "thread=&" in url and "version=2" in url)
    assert rows(page).count() == 1 and "Please refund order #1043" in rows(page).first.inner_text()
    assert page.evaluate(SAME_DOCUMENT)


def test_the_trace_header_says_succeeded_with_errors(logged_in_page, runs):
    page = logged_in_page("olivia", "pw")
    page.goto(f"/runs/{runs['refused'].pk}/")

    badge = page.locator("#run-header .badge")
    assert badge.inner_text() == "Succeeded with errors"
    assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(230, 119, 0)"
