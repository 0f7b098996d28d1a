"""GET/PUT /api/v1/budgets/: owners read and set the tenant's and agents' budgets; nobody else."""

from decimal import Decimal

import pytest

from agentops.agents.models import Agent
from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Tenant
from tests.factories import AgentFactory
from tests.runs.test_budgets import owner_api, spent  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(tenant):
    return AgentFactory(tenant=tenant, slug="chat")


def test_owners_set_the_tenants_and_an_agents_budgets_and_read_them_back_with_the_spend(owner_api, tenant, chat):
    spent(chat, "1.25")

    response = owner_api.put("/api/v1/budgets/", {
        "daily_limit": "10", "monthly_limit": "200", "policy": "pause",
        "agents": [{"agent": "chat", "daily_limit": "2"}]}, format="json")

    assert response.status_code == 200, response.json()
    assert owner_api.get("/api/v1/budgets/").json() == response.json() == {
        "policy": "pause", "warn_at_percent": 80,
        "tenant": {"daily_limit": "10.0000", "monthly_limit": "200.0000", "daily_spent": "1.250000",
                   "monthly_spent": "1.250000"},
        "agents": [{"agent": "chat", "daily_limit": "2.0000", "monthly_limit": None, "daily_spent": "1.250000",
                    "monthly_spent": "1.250000"}],
    }
    [changed] = AuditEvent.objects.filter(action="tenant.changed")
    assert changed.changes["budget_policy"] == ["fail", "pause"]
    assert AuditEvent.objects.get(action="agent.changed").changes == {"daily_cost_limit": [None, "2.0000"]}


def test_a_field_left_out_stays_and_null_removes_a_limit(owner_api, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("5"), monthly_cost_limit=Decimal("50"))

    owner_api.put("/api/v1/budgets/", {"daily_limit": None}, format="json")

    tenant.refresh_from_db()
    assert (tenant.daily_cost_limit, tenant.monthly_cost_limit) == (None, Decimal("50"))


@pytest.mark.parametrize("body, code", [
    ({"daily_limit": "-1"}, "invalid"),
    ({"policy": "shrug"}, "invalid"),
    ({"weekly_limit": "1"}, "unknown_field"),
    ({"agents": [{"agent": "chat", "hourly_limit": "1"}]}, "unknown_field"),
    ({"agents": [{"agent": "nobody", "daily_limit": "1"}]}, "unknown_agent"),
])
def test_bad_input_is_refused_and_changes_nothing(owner_api, tenant, chat, body, code):
    response = owner_api.put("/api/v1/budgets/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    tenant.refresh_from_db()
    assert tenant.daily_cost_limit is None and tenant.budget_policy == "fail"


def test_another_tenants_agent_cannot_be_given_a_budget(owner_api, other_tenant):
    theirs = AgentFactory(tenant=other_tenant, slug="theirs")

    response = owner_api.put("/api/v1/budgets/", {"agents": [{"agent": "theirs", "daily_limit": "1"}]},
                             format="json")

    assert response.json()["error"]["code"] == "unknown_agent"
    assert Agent.objects.get(pk=theirs.pk).daily_cost_limit is None


def test_the_answer_counts_this_tenants_spend_only(owner_api, other_tenant, chat):
    spent(AgentFactory(tenant=other_tenant, slug="chat"), "9")

    assert owner_api.get("/api/v1/budgets/").json()["tenant"]["daily_spent"] == "0.000000"


def test_operators_may_neither_read_nor_set_budgets(api, tenant):
    assert api.get("/api/v1/budgets/").status_code == 403
    assert api.put("/api/v1/budgets/", {"daily_limit": "1000"}, format="json").status_code == 403
    tenant.refresh_from_db()
    assert tenant.daily_cost_limit is None


def test_an_owners_key_without_the_budgets_scope_may_read_but_not_set(owner, tenant, api_key_for):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(owner, tenant, ('read',))}")

    assert client.get("/api/v1/budgets/").status_code == 200
    assert client.put("/api/v1/budgets/", {"daily_limit": "1000"}, format="json").status_code == 403
