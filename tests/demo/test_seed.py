"""seed_demo's tool content: complete, and idempotent."""

import pytest

from django.contrib.auth import get_user_model
from guardian.shortcuts import get_user_perms

from agentops.agents.models import Agent, AgentVersion
from agentops.agents.selectors import agent_access_get
from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Membership
from demo import DEMO_TOOL_NAMES
from demo.models import DemoArticle, DemoCustomer, DemoOrder
from demo.seed import seed_demo
from tools.models import Tool
from tools.selectors import tool_map

from .conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)


def counts() -> dict:
    return {model.__name__: model.objects.count()
            for model in (Tool, DemoArticle, DemoCustomer, DemoOrder, AgentVersion, AuditEvent)}


def test_seed_demo_twice_duplicates_nothing(db):
    seed_demo()
    first = counts()

    report = seed_demo()

    assert report == [] and counts() == first
    assert 8 <= first["DemoArticle"] <= 12


def test_the_support_agent_is_granted_the_five_tools(db):
    seed_demo()

    agent = Agent.objects.get(slug="support")
    assert agent.current_version.tools == list(DEMO_TOOL_NAMES)
    assert set(tool_map(tenant=agent.tenant, names=DEMO_TOOL_NAMES)) == set(DEMO_TOOL_NAMES)


def test_sam_may_use_every_demo_tool_but_the_refund(db):
    seed_demo()

    sam = get_user_model().objects.get(username="sam")
    tools = tool_map(tenant=Agent.objects.get(slug="support").tenant, names=DEMO_TOOL_NAMES)
    granted = {name for name, tool in tools.items() if "use_tool" in get_user_perms(sam, tool)}
    assert granted == set(DEMO_TOOL_NAMES) - {"billing.refund"}


def test_the_billing_tool_holds_a_secret_reference_not_a_value(db):
    seed_demo()

    billing = Tool.objects.get(name="billing.refund")
    assert billing.config["headers"]["Authorization"] == "Bearer {{ secret:DEMO_BILLING_TOKEN }}"
    assert billing.config["url"].endswith("/demo/billing/refunds")
    assert (billing.idempotent, billing.effect, billing.approval_condition) == (True, "write", "amount > 50")


def test_the_shop_agent_is_restricted_to_the_storefront_and_its_lookup_bound_to_the_customer(db):
    seed_demo()

    shop = Agent.objects.get(slug="shop")
    assert agent_access_get(agent=shop) == {"restricted": True, "users": [], "groups": ["storefront"]}
    assert Tool.objects.get(name="orders.customer_lookup").argument_rules == [
        "arguments.customer_id == user.attributes.customer_id"]
    assert Membership.objects.get(tenant=shop.tenant, user__username="ada").attributes == {"customer_id": "C-1001"}
