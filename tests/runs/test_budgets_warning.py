"""At 80% of a budget the tenant's webhooks get `budget.warning`, once per budget and period; the
pages show a banner to the tenant's members."""

from decimal import Decimal

import pytest
from django.urls import reverse

from agentops.tenancy.models import Tenant
from runs.models import BudgetWarning, RunStatus
from runs.services import run_create
from tests.factories import AgentFactory
from tests.runs.test_budgets import spent
from tests.webhooks.conftest import hook_for, receiver, worker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scripted(tenant):
    return AgentFactory(tenant=tenant, slug="chat", version__workflow="test_budget_one_call",
                        version__provider="scripted", version__provider_config={"responses": []})


def run_once(principal, agent, advance):
    run, _ = run_create(principal=principal, agent_slug=agent.slug, input={})
    return advance(run)


def test_passing_80_percent_sends_one_warning_per_budget_and_period(tenant, scripted, principal, advance, receiver,
                                                                    hook_for, worker):
    hook_for(receiver.url, events=["budget.warning"])
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("10"))
    spent(scripted, "7.99")
    assert run_once(principal, scripted, advance).status == RunStatus.SUCCEEDED  # 79.9%: no warning

    spent(scripted, "0.01")
    runs = [run_once(principal, scripted, advance) for _ in range(3)]
    worker.run_due()

    assert {run.status for run in runs} == {RunStatus.SUCCEEDED}  # a warning stops nothing
    [request] = receiver.requests
    assert request.headers["x-agentops-event"] == "budget.warning"
    data = request.json()["data"]
    assert (data["budget"], data["period"], data["limit"], data["spent"], data["percent"]) == (
        "tenant", "daily", "10.000000", "8.000000", 80)
    assert data["message"] == "tenant acme has spent $8.00 of its $10.00 daily budget"
    assert BudgetWarning.objects.count() == 1


def test_an_agents_budget_warns_apart_from_the_tenants(tenant, scripted, principal, advance, receiver, hook_for,
                                                        worker):
    hook_for(receiver.url, events=["budget.warning"])
    Tenant.objects.filter(pk=tenant.pk).update(monthly_cost_limit=Decimal("100"))
    type(scripted).objects.filter(pk=scripted.pk).update(monthly_cost_limit=Decimal("1"))
    spent(scripted, "0.9")

    run_once(principal, scripted, advance)
    worker.run_due()

    [request] = receiver.requests
    assert request.json()["data"]["budget"] == "agent:chat"


def test_another_tenants_webhooks_hear_nothing(tenant, other_tenant, scripted, principal, advance, receiver, worker):
    from agentops.webhooks.models import Webhook

    Webhook.objects.create(tenant=other_tenant, name="theirs", url=receiver.url, secret="{{ secret:X }}", events=["*"])
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("1"))
    spent(scripted, "0.9")

    run_once(principal, scripted, advance)
    worker.run_due()

    assert receiver.requests == []
    assert BudgetWarning.objects.filter(tenant=tenant).count() == 1


def test_members_see_a_banner_past_80_percent_and_not_before(client, operator, other_tenant, tenant, scripted):
    client.force_login(operator)
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("10"))
    spent(scripted, "7")
    assert "budget-banner" not in client.get(reverse("runs:list")).content.decode()

    spent(scripted, "2")
    page = client.get(reverse("runs:list")).content.decode()

    assert "Budget: the tenant&#x27;s daily budget has spent $9.00 of $10.00 (90%)." in page


def test_a_used_up_budget_says_what_happens_to_new_model_calls(client, operator, tenant, scripted):
    client.force_login(operator)
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("10"), budget_policy="pause")
    spent(scripted, "10")

    page = client.get(reverse("runs:list")).content.decode()

    assert "(100%); new model calls wait for an owner's approval." in page
