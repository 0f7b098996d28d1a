"""The audit page in a real browser: an operator filters the log by action without a reload,
follows an event to its run, and the export link carries the filter."""

import pytest

from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor, audit_record
from tests.support.runs_journal import make_run

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_filters_the_log_and_follows_an_event_to_its_run(logged_in_page, operator, tenant, agent):
    run = make_run(agent)
    audit_record(tenant=tenant, action="run.created", actor=Actor.for_user(operator), target=run)
    audit_record(tenant=tenant, action="tool.called", actor=Actor.for_run(run), target=run, data={"tool": "refund"})
    audit_record(tenant=tenant, action="agent.changed", actor=Actor.for_user(operator), target=agent)
    audit_seal(tenant_ids=[tenant.pk], wait=True)
    page = logged_in_page("olivia", "pw")
    page.goto("/audit/")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#audit-table tbody tr").count() == 3

    page.fill("input[name=action]", "tool.called")
    page.locator("input[name=action]").dispatch_event("change")
    page.wait_for_function("document.querySelectorAll('#audit-table tbody tr').length === 1")

    assert page.evaluate("window.__sameDocument === true")
    assert "action=tool.called" in page.url
    assert "action=tool.called" in page.locator("a", has_text="CSV").get_attribute("href")
    assert page.locator("#audit-table tbody tr .sealed").inner_text() == "#2"
    page.locator("#audit-table tbody tr a", has_text="run").last.click()
    page.wait_for_url(f"**/runs/{run.pk}/")
