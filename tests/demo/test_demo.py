"""The demo tools and the demo billing endpoint."""

import json
from decimal import Decimal

import pytest
from django.test import Client, override_settings

from agentops.tenancy.roles import Role
from demo.models import DemoOrder, DemoRefund
from demo.seed import seed_demo_tools
from tools.gateway import ToolFailed, ToolRefused, ToolSession, tool_execute
from tools.models import Tool

from .conftest import ACTOR, DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)

BILLING_TOKEN = "billing-test-token-5be1"


@pytest.fixture
def billing_token(monkeypatch):
    monkeypatch.setenv("DEMO_BILLING_TOKEN", BILLING_TOKEN)
    return BILLING_TOKEN


@pytest.fixture
def seeded(tenant, member):
    seed_demo_tools(tenant=tenant, restricted_user=member("sam", Role.VIEWER), actor=ACTOR, report=[])
    return tenant


def run_tool(make_run, user, name, arguments, key="k:1", tenant=None):
    run = make_run(user, tools=[name], **({"tenant": tenant} if tenant else {}))
    return tool_execute(prepared=ToolSession(run).prepare(name, arguments), idempotency_key=key, deadline=None)


def refund(client, *, key="key-1", token=BILLING_TOKEN, account="acme", **body):
    body = {"order_id": "1042", "amount": 12.5, "reason": "damaged", **body}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_BILLING_ACCOUNT": account}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/demo/billing/refunds", body, content_type="application/json", **headers)


# Python tools


def test_kb_search_ranks_the_matching_articles_first(seeded, operator, make_run):
    result = run_tool(make_run, operator, "kb.search", {"query": "How do I get a refund for a damaged item?"})

    titles = [hit["title"] for hit in result["results"]]
    assert len(titles) == 3 and result["total"] >= 3
    assert set(titles[:2]) <= {"Refund policy", "How to request a refund", "Damaged or defective items"}
    assert all(hit["snippet"] for hit in result["results"])


def test_kb_search_finds_nothing_for_unrelated_words(seeded, operator, make_run):
    assert run_tool(make_run, operator, "kb.search", {"query": "zebra xylophone"})["results"] == []


def test_kb_search_reads_only_the_runs_tenant(seeded, other_tenant, member, make_run):
    outsider = member("otto", Role.OPERATOR, in_tenant=other_tenant)

    result = run_tool(make_run, outsider, "kb.search", {"query": "refund"}, tenant=other_tenant)

    assert result["results"] == []


def test_crm_lookup_by_email_returns_the_customer_and_recent_orders(seeded, operator, make_run):
    result = run_tool(make_run, operator, "crm.lookup_customer", {"email": "ADA@example.com"})

    assert (result["customer_id"], result["name"]) == ("C-1001", "Ada Lovelace")
    assert {order["order_id"] for order in result["recent_orders"]} == {"1040", "1042"}


def test_crm_lookup_needs_an_email_or_an_id(seeded, operator, make_run):
    with pytest.raises(ToolFailed, match="email address or customer id"):
        run_tool(make_run, operator, "crm.lookup_customer", {})


def test_orders_lookup_returns_items_amount_status_and_customer(seeded, operator, make_run):
    result = run_tool(make_run, operator, "orders.lookup", {"order_id": "#1042"})

    [order] = result["rows"]
    assert (order["order_id"], order["status"], order["amount"]) == ("1042", "delivered", 30.0)
    assert json.loads(order["items"])[0]["name"] == "USB-C cable, 2 m"
    assert order["customer_email"] == "ada@example.com"


def test_orders_lookup_is_a_global_sql_tool_on_the_demo_database(seeded):
    tool = Tool.objects.get(name="orders.lookup")

    assert (tool.tenant, tool.kind, tool.config["database"]) == (None, "sql", "demo")


def test_orders_lookup_reads_only_the_runs_tenant(seeded, other_tenant, member, make_run):
    # Given another tenant with no orders of its own
    stranger = member("olga", Role.OPERATOR, in_tenant=other_tenant)

    # When its run looks up an order id that exists in the seeded tenant
    result = run_tool(make_run, stranger, "orders.lookup", {"order_id": "1042"}, tenant=other_tenant)

    # Then it finds nothing
    assert result["rows"] == []


# The billing endpoint


def test_a_refund_is_made_once_per_idempotency_key(seeded, billing_token):
    client = Client()

    first = refund(client)
    again = refund(client)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert DemoRefund.objects.count() == 1
    assert DemoOrder.objects.get(tenant=seeded, order_id="1042").refunded_amount == Decimal("12.50")


def test_a_bad_token_is_refused_and_refunds_nothing(seeded, billing_token):
    response = refund(Client(), token="wrong")

    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not DemoRefund.objects.exists()


def test_a_reused_key_with_another_request_is_refused(seeded, billing_token):
    client = Client()
    refund(client)

    response = refund(client, amount=13)

    assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_key_reused"
    assert DemoRefund.objects.count() == 1


def test_a_refund_cannot_exceed_what_is_left(seeded, billing_token):
    response = refund(Client(), amount=30.01)

    assert response.status_code == 422 and not DemoRefund.objects.exists()


def test_a_refund_needs_an_idempotency_key(seeded, billing_token):
    assert refund(Client(), key="").status_code == 400


def test_without_a_token_configured_the_endpoint_does_not_exist(seeded, monkeypatch):
    monkeypatch.delenv("DEMO_BILLING_TOKEN", raising=False)

    assert refund(Client()).status_code == 404


# billing.refund end to end: the http tool against the app itself, served on 127.0.0.1


@pytest.mark.django_db(transaction=True, databases=DEMO_DATABASES)
def test_billing_refund_through_the_gateway_refunds_once(live_server, tenant, member, make_run, billing_token,
                                                         allow_outbound):
    # Given the demo seeded with the billing URL of the live server, which the platform allows
    allow_outbound(live_server.url)
    with override_settings(AGENTOPS_PUBLIC_URL=live_server.url):
        seed_demo_tools(tenant=tenant, restricted_user=member("sam", Role.VIEWER), actor=ACTOR, report=[])
    run = make_run(member("olivia", Role.OPERATOR), tools=["billing.refund"])
    prepared = ToolSession(run).prepare("billing__refund", {"order_id": "1042", "amount": 20})

    # When the call is executed twice with one idempotency key (a crash and a retry)
    first = tool_execute(prepared=prepared, idempotency_key=f"{run.pk}:5", deadline=None)
    second = tool_execute(prepared=prepared, idempotency_key=f"{run.pk}:5", deadline=None)

    # Then one refund was made, no approval was needed for 20, and the token never shows
    assert prepared.approval is None
    assert first == second and first["amount"] == 20.0 and first["order_id"] == "1042"
    assert DemoRefund.objects.count() == 1
    assert BILLING_TOKEN not in str(first)


@pytest.mark.django_db(transaction=True, databases=DEMO_DATABASES)
def test_a_large_refund_needs_approval_and_sam_may_not_refund(live_server, tenant, member, make_run):
    sam = member("sam", Role.VIEWER)
    seed_demo_tools(tenant=tenant, restricted_user=sam, actor=ACTOR, report=[])
    operator_run = make_run(member("olivia", Role.OPERATOR), tools=["billing.refund", "orders.lookup"])
    sam_run = make_run(sam, tools=["billing.refund", "orders.lookup"])

    gated = ToolSession(operator_run).prepare("billing.refund", {"order_id": "1043", "amount": 129})
    with pytest.raises(ToolRefused, match="user sam may not use billing.refund"):
        ToolSession(sam_run).prepare("billing.refund", {"order_id": "1043", "amount": 10})

    assert gated.approval.reason == "billing.refund needs approval when amount > 50 (amount = 129)"
    assert gated.approval.expiry_action == "reject"
    assert ToolSession(sam_run).prepare("orders.lookup", {"order_id": "1043"}).approval is None
