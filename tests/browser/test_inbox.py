"""The inbox of an operator who decides many requests, in a real browser: rows that show the key
arguments, ticking identical requests for one decision, the keyboard, and the requests one started."""

import pytest

from approvals.models import ApprovalRequest, ApprovalStatus
from approvals.services import approval_request_create
from runs.models import Run, RunStatus, WaitingReason
from tools.models import Tool

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUND_SCHEMA = {"type": "object", "properties": {
    "order_id": {"type": "string", "x-summary": True},
    "amount": {"type": "number", "x-summary": True},
    "customer": {"type": "string", "x-summary": True},
    "reason": {"type": "string"},
}}
REFUND = {"order_id": "1045", "amount": 329, "customer": "Alan Turing", "reason": "cracked screen"}


@pytest.fixture
def refunds(tenant, agent, operator):
    """refunds(n, **arguments) → n pending billing.refund requests with these arguments."""
    Tool.objects.create(tenant=tenant, name="billing.refund", kind="http", input_schema=REFUND_SCHEMA,
                        approval="always")

    def make(n, created_by=operator, **changes):
        requests = []
        for _ in range(n):
            run = Run.objects.create(tenant=tenant, agent=agent, agent_version=agent.current_version,
                                     workflow="agent_loop", status=RunStatus.WAITING,
                                     waiting_reason=WaitingReason.APPROVAL, created_by=created_by)
            requests.append(approval_request_create(
                run=run, step_seq=1, title="Support wants to call billing.refund", tool_name="billing.refund",
                proposed_arguments={**REFUND, **changes}, context={}))
        return requests

    return make


def row(page, request):
    return page.locator(f"#approval-{request.pk}")


def test_rows_show_key_arguments_and_identical_requests_are_approved_together(logged_in_page, screenshot,
                                                                              refunds, approver):
    same = refunds(3)
    other = refunds(1, amount=12)[0]
    page = logged_in_page("arthur", "pw")
    page.goto("/inbox/")

    cells = row(page, same[0]).locator(".key-args").inner_text()
    assert "order_id 1045" in cells and "amount 329" in cells and "customer Alan Turing" in cells
    assert "cracked screen" not in cells

    row(page, same[0]).locator("input[type=checkbox]").check()
    assert row(page, other).locator("input[type=checkbox]").is_disabled()  # not identical: another amount
    for request in same[1:]:
        row(page, request).locator("input[type=checkbox]").check()
    assert page.locator("#bulk-status").inner_text() == "3 identical requests ticked"
    page.fill("#bulk-comment", "Known batch of cracked screens.")
    screenshot(page, "inbox-bulk", docs=True)
    page.get_by_role("button", name="Approve selected").click()

    page.wait_for_selector("#bulk-outcome .outcome.ok")
    assert page.locator("#bulk-outcome").inner_text().strip() == "Approved 3 requests."
    page.wait_for_function("document.querySelectorAll('#inbox-list tr.inbox-row').length === 1")
    assert page.locator("#bulk-comment").input_value() == ""
    statuses = {r.pk: r.status for r in ApprovalRequest.objects.all()}
    assert [statuses[r.pk] for r in same] == [ApprovalStatus.APPROVED] * 3
    assert statuses[other.pk] == ApprovalStatus.PENDING
    assert {r.comment for r in ApprovalRequest.objects.filter(status=ApprovalStatus.APPROVED)} == {
        "Known batch of cracked screens."}


def test_the_keyboard_moves_ticks_approves_and_opens(logged_in_page, refunds, approver):
    first, second, third = refunds(3)
    page = logged_in_page("arthur", "pw")
    page.goto("/inbox/")

    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcuts").is_visible()

    page.keyboard.press("j")
    page.keyboard.press("j")
    assert row(page, second).get_attribute("class").split() == ["inbox-row", "current"]
    page.keyboard.press("k")
    assert "current" in row(page, first).get_attribute("class")

    page.click("#bulk-comment")
    page.keyboard.type("jjx")  # typed into the field, not taken as shortcuts
    assert page.locator("#bulk-comment").input_value() == "jjx"
    assert "current" in row(page, first).get_attribute("class") and not row(page, first).locator("input").is_checked()
    page.fill("#bulk-comment", "")
    page.locator("body").click(position={"x": 5, "y": 5})  # out of the field

    page.keyboard.press("a")  # nothing ticked: approves the current request
    page.wait_for_selector("#bulk-outcome .outcome.ok")
    page.wait_for_function(f"!document.getElementById('approval-{first.pk}')")
    assert ApprovalRequest.objects.get(pk=first.pk).status == ApprovalStatus.APPROVED
    assert ApprovalRequest.objects.get(pk=second.pk).status == ApprovalStatus.PENDING

    page.keyboard.press("j")
    page.keyboard.press("r")  # ticks it and asks why
    assert page.evaluate("document.activeElement.id") == "bulk-comment"
    page.keyboard.type("Duplicate of an earlier refund.")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"!document.getElementById('approval-{second.pk}')")
    rejected = ApprovalRequest.objects.get(pk=second.pk)
    assert rejected.status == ApprovalStatus.REJECTED and rejected.comment == "Duplicate of an earlier refund."

    page.keyboard.press("j")
    page.keyboard.press("e")
    page.wait_for_url(f"**/inbox/{third.pk}/")


def test_requests_you_started_are_listed_with_who_decides_them(logged_in_page, refunds, operator, approver):
    mine = refunds(1, created_by=operator)[0]
    page = logged_in_page("olivia", "pw")  # an operator: starts runs, decides nothing
    page.goto("/inbox/")

    assert "Your role does not decide approvals" in page.locator("#inbox-list").inner_text()
    started = page.locator(f"#started-{mine.pk}")
    assert "any approver, not you" in started.locator(".deciders").inner_text()
    assert "amount 329" in started.locator(".key-args").inner_text()
    assert "scope" not in page.content()
    started.get_by_role("link").click()
    page.wait_for_url(f"**/inbox/{mine.pk}/")
    assert "Your role (operator) does not allow deciding approvals." in page.locator("#decision").inner_text()
