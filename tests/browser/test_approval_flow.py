"""The approval flow end to end, in a real browser against a real worker.

An approver has the inbox open; a support run asks to refund an order; the request appears in the
inbox without a reload; the approver lowers the amount and approves; the run resumes on the worker
and refunds the edited amount, which the trace shows. Also takes the screenshots the README shows
(docs/screenshots/inbox.png, approval.png). Scaled out, the inbox socket brings a request at once.
"""

import pytest

from agentops.audit.services import Actor
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from approvals.models import ApprovalRequest, ApprovalStatus
from approvals.services import approval_request_create
from runs.models import Run, RunStatus, Step, StepKind, WaitingReason
from runs.services import run_create
from tests.factories import AgentFactory
from tests.support.tool_servers import Reply, ScriptedHTTPServer
from tests.support.workers import running_worker
from tools.services import tool_create

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAME_DOCUMENT = "window.__sameDocument === true"  # survives only if the page never reloads
ORDER = {"order_id": "1045", "status": "delivered", "item": "27-inch monitor", "amount": 329.0,
         "customer": "Alan Turing", "delivered": "3 days ago"}
MESSAGE = "My new monitor arrived with a cracked screen. Order 1045. I want my money back."
REASON = "Order 1045 was delivered 3 days ago and the customer reports a cracked screen: a full refund is due."


def shop(request):
    """The shop's API: order lookups and refunds (echoing what was refunded)."""
    if request.path == "/orders":
        return Reply(200, ORDER)
    body = request.json()
    return Reply(201, {"refund_id": "re_000451", "order_id": body["order_id"], "amount": body["amount"],
                       "status": "succeeded"})


@pytest.fixture
def shop_api(allow_outbound):
    with ScriptedHTTPServer(shop) as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture
def support_agent(tenant, shop_api):
    actor = Actor.system("test")
    tool_create(tenant=tenant, name="orders.lookup", kind="http", actor=actor, description="Look up an order.",
                input_schema={"type": "object", "properties": {"order_id": {"type": "string"}},
                              "required": ["order_id"]},
                config={"method": "POST", "url": f"{shop_api.url}/orders"})
    tool_create(tenant=tenant, name="billing.refund", kind="http", actor=actor, effect="write", idempotent=True,
                description="Refund (part of) an order.", approval="when", approval_condition="amount > 50",
                input_schema={"type": "object", "additionalProperties": False, "required": ["order_id", "amount"],
                              "properties": {
                                  "order_id": {"type": "string", "description": "The order to refund."},
                                  "amount": {"type": "number", "exclusiveMinimum": 0,
                                             "description": "How much to refund, in USD."},
                                  "reason": {"type": "string", "maxLength": 500}}},
                config={"method": "POST", "url": f"{shop_api.url}/refunds"})
    refund = {"order_id": "1045", "amount": 329, "reason": "Arrived with a cracked screen."}
    script = [
        {"tool_calls": [{"name": "orders__lookup", "arguments": {"order_id": "1045"}}]},
        {"content": REASON, "tool_calls": [{"name": "billing__refund", "arguments": refund}]},
        {"content": "I have refunded your order 1045; the money is on its way."},
    ]
    return AgentFactory(tenant=tenant, slug="support", name="Support", version__provider="scripted",
                        version__provider_config={"responses": script},
                        version__tools=["orders.lookup", "billing.refund"])


@pytest.mark.slow
def test_an_approver_edits_and_approves_a_refund_that_arrives_while_the_inbox_is_open(
    logged_in_page, screenshot, support_agent, operator, approver, tenant, shop_api
):
    page = logged_in_page("arthur", "pw")
    page.goto("/inbox/")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#inbox-list tbody tr").count() == 0

    with running_worker() as worker:
        principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator))
        run, _ = run_create(principal=principal, agent_slug="support", input={"message": MESSAGE})

        # The request appears by the list's polling: no reload, no click.
        try:
            page.wait_for_selector("#inbox-list tbody tr", timeout=60_000)
        except Exception as error:
            raise AssertionError(f"no request arrived:\n{worker.output()}") from error
        assert page.evaluate(SAME_DOCUMENT)
        assert page.locator("#inbox-count").inner_text() == "1"
        request = ApprovalRequest.objects.get(run=run)
        screenshot(page, "inbox", docs=True)

        page.locator(f"#approval-{request.pk} a").click()
        page.wait_for_selector("#decision form")
        assert page.locator(".approval-context").get_by_text("cracked screen").count() >= 1
        page.fill("#id_arg__amount", "150")
        assert page.locator(".field.edited").count() == 1  # the changed input is marked, with the proposal
        page.fill("#id_comment", "Refund the screen's share; the stand and cable are fine.")
        screenshot(page, "approval", docs=True, full_page=True)
        page.evaluate("window.__sameDocument = true")
        page.get_by_role("button", name="Approve with edits").click()
        page.wait_for_selector("#decision .outcome.ok")
        assert page.evaluate(SAME_DOCUMENT)  # the outcome was swapped in, not a new page
        assert page.locator("#decision .verdict").get_by_text("Approved").count() == 1

        page.locator("#trace-link").click()
        page.wait_for_url(f"**/runs/{run.pk}/**")
        try:
            page.wait_for_selector("#run-header .badge.status-succeeded", timeout=60_000)
        except Exception as error:
            raise AssertionError(f"the run did not finish:\n{worker.output()}") from error

    refunded = [r.json() for r in shop_api.requests if r.path == "/refunds"]
    assert refunded == [{"order_id": "1045", "amount": 150, "reason": "Arrived with a cracked screen."}]
    run.refresh_from_db()
    request.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and request.status == ApprovalStatus.APPROVED
    assert request.proposed_arguments["amount"] == 329 and request.approved_arguments["amount"] == 150
    executed = Step.objects.get(run=run, seq=request.step_seq + 1, kind=StepKind.TOOL)
    assert executed.input["arguments"]["amount"] == 150
    tool_step = page.locator(f"#step-{run.pk}-{executed.seq}")
    tool_step.locator("summary").first.click()
    tool_step.get_by_text('"amount": 150').first.wait_for()

    # Back on the request: what was proposed, approved and executed, side by side.
    page.goto(f"/inbox/{request.pk}/")
    amount = page.locator("table.compare tr", has=page.locator("code", has_text="amount")).locator("pre")
    assert amount.all_inner_texts() == ["329", "150", "150"]
    screenshot(page, "approval-decided", full_page=True)


def test_a_push_brings_a_new_request_before_the_next_poll(logged_in_page, asgi_server, approver, agent, tenant):
    """Scaled out (ASGI, Redis): the inbox socket's nudge fetches the list at once."""
    page = logged_in_page("arthur", "pw", base_url=asgi_server)
    page.goto("/inbox/")
    page.wait_for_function("window.agentopsInboxLive === true")  # the socket is open
    polls = []
    page.on("request", lambda request: "/inbox/" in request.url and polls.append(request.url))
    while not polls:  # right after a poll, the next one is 5 s away
        page.wait_for_timeout(50)

    run = Run.objects.create(tenant=tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop",
                             status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    approval_request_create(run=run, step_seq=1, title="Close ticket 77?", proposed_arguments={}, context={})

    page.wait_for_selector("#inbox-list tbody tr", timeout=2_500)


def test_the_inbox_filter_holds_across_polls(logged_in_page, approver, agent, tenant):
    billing = AgentFactory(tenant=tenant, slug="billing", name="Billing")
    for which in (agent, billing):
        run = Run.objects.create(tenant=tenant, agent=which, agent_version=which.current_version,
                                 workflow="agent_loop", status=RunStatus.WAITING,
                                 waiting_reason=WaitingReason.APPROVAL)
        approval_request_create(run=run, step_seq=1, title=f"{which.name} asks", proposed_arguments={}, context={})
    page = logged_in_page("arthur", "pw")
    page.goto("/inbox/")
    assert page.locator("#inbox-list tbody tr").count() == 2

    page.select_option("#inbox-filters select[name=agent]", "billing")
    page.wait_for_url("**/inbox/?agent=billing**")
    page.wait_for_function("document.querySelectorAll('#inbox-list tbody tr').length === 1")
    with page.expect_request(lambda request: "/inbox/?" in request.url and "agent=billing" in request.url):
        # The next poll asks with the filter, and its answer keeps the list filtered.
        page.evaluate("() => new Promise(settled => document.getElementById('inbox-list')"
                      ".addEventListener('htmx:afterSettle', settled, {once: true}))")
    rows = page.locator("#inbox-list tbody tr").all_inner_texts()
    assert len(rows) == 1 and rows[0].strip().startswith("Billing asks")
