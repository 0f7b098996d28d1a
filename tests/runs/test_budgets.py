"""Budgets stop or pause a run before its model call: the tenant's and each agent's, per day and month."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from agentops.tenancy.models import BudgetPolicy, Tenant
from agentops.tenancy.roles import Role
from approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from runs.models import DailyUsage, RunStatus, Step, StepKind, StepStatus
from runs.registry import workflow
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@workflow("test_budget_one_call")
def one_call(ctx, input):
    return {"said": ctx.llm([{"role": "user", "content": "Hello?"}]).content}


@pytest.fixture
def chat_agent(tenant):
    return AgentFactory(tenant=tenant, slug="chat", version__workflow="test_budget_one_call", version__provider="openai",
                        version__model="gpt-4o-mini")


@pytest.fixture
def run_of(principal, advance):
    """run_of(agent) → a run of the agent, executed as far as it goes."""
    from runs.services import run_create

    def go(agent):
        run, _ = run_create(principal=principal, agent_slug=agent.slug, input={})
        return advance(run)

    return go


@pytest.fixture
def owner_api(owner, tenant, api_key_for):
    client = APIClient()
    key = api_key_for(owner, tenant, ("read", "approvals:write", "budgets:write"))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def spent(agent, amount, day=None):
    """Add `amount` USD to the agent's usage of `day` (today), as model calls would have."""
    usage, _ = DailyUsage.objects.get_or_create(tenant_id=agent.tenant_id, agent=agent, day=day or timezone.now().date())
    DailyUsage.objects.filter(pk=usage.pk).update(cost=F("cost") + Decimal(amount))


def limits(tenant, **fields):
    Tenant.objects.filter(pk=tenant.pk).update(**fields)


# -- fail ----------------------------------------------------------------------------------------


def test_a_used_up_daily_budget_fails_the_run_before_the_model_call(openai_server, tenant, chat_agent, run_of):
    limits(tenant, daily_cost_limit=Decimal("10"))
    spent(chat_agent, "10.00")

    run = run_of(chat_agent)

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "tenant_budget_exceeded"
    assert run.error["message"] == "tenant acme has spent $10.00 of its $10.00 daily budget"
    assert run.error["details"]["period"] == "daily"
    assert openai_server.chat_requests == []
    assert not Step.objects.filter(run=run).exists()


def test_a_monthly_budget_counts_the_earlier_days_of_the_month_only(openai_server, tenant, chat_agent, run_of):
    openai_server.reply("Hi.")
    today = timezone.now().date()
    limits(tenant, monthly_cost_limit=Decimal("5"))
    spent(chat_agent, "3", day=today.replace(day=1) - dt.timedelta(days=1))  # last month's
    if today.day > 1:
        spent(chat_agent, "2", day=today - dt.timedelta(days=1))

    assert run_of(chat_agent).status == RunStatus.SUCCEEDED

    spent(chat_agent, "3")
    run = run_of(chat_agent)
    assert run.error["code"] == "tenant_budget_exceeded"
    assert "of its $5.00 monthly budget" in run.error["message"]
    assert len(openai_server.chat_requests) == 1


def test_an_agents_limit_stops_that_agent_only(openai_server, tenant, chat_agent, run_of):
    openai_server.reply("Hi.")
    other = AgentFactory(tenant=tenant, slug="other", version__workflow="test_budget_one_call",
                         version__provider="openai", version__model="gpt-4o-mini")
    type(chat_agent).objects.filter(pk=chat_agent.pk).update(daily_cost_limit=Decimal("1"))
    spent(chat_agent, "1.5")

    stopped, went = run_of(chat_agent), run_of(other)

    assert stopped.error["code"] == "agent_budget_exceeded"
    assert stopped.error["message"] == "agent chat has spent $1.50 of its $1.00 daily budget"
    assert went.status == RunStatus.SUCCEEDED
    assert len(openai_server.chat_requests) == 1


def test_another_tenants_spend_does_not_count(openai_server, tenant, other_tenant, chat_agent, run_of):
    openai_server.reply("Hi.")
    limits(tenant, daily_cost_limit=Decimal("1"))
    spent(AgentFactory(tenant=other_tenant, slug="chat"), "100")

    assert run_of(chat_agent).status == RunStatus.SUCCEEDED


# -- pause ---------------------------------------------------------------------------------------


@pytest.fixture
def paused(openai_server, tenant, chat_agent, run_of):
    """A run paused on its tenant's used-up daily budget ($2 of $2), and its budget approval."""
    limits(tenant, daily_cost_limit=Decimal("2"), budget_policy=BudgetPolicy.PAUSE)
    spent(chat_agent, "2")
    run = run_of(chat_agent)
    return run, ApprovalRequest.objects.get(run=run)


def test_under_the_pause_policy_the_run_waits_for_a_budget_approval_without_calling_the_model(paused, openai_server):
    run, request = paused

    assert run.status == RunStatus.WAITING and run.waiting_reason == "approval"
    assert request.kind == ApprovalKind.BUDGET and request.status == ApprovalStatus.PENDING
    assert request.title == "Budget used up: tenant acme has spent $2.00 of its $2.00 daily budget"
    assert request.context["budget"]["limit"] == "2.000000"
    assert openai_server.chat_requests == []


def test_approving_before_raising_the_budget_is_refused(paused, owner_api, openai_server):
    run, request = paused

    response = owner_api.post(f"/api/v1/approvals/{request.pk}/approve/", {"seen_hash": request.current_hash},
                              format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert "raise the budget" in response.json()["error"]["message"]
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_raising_the_budget_and_approving_resumes_the_run_which_then_calls_the_model(
        paused, owner_api, openai_server, advance):
    run, request = paused
    openai_server.reply("Hi again.")

    assert owner_api.put("/api/v1/budgets/", {"daily_limit": "5"}, format="json").status_code == 200
    response = owner_api.post(f"/api/v1/approvals/{request.pk}/approve/", {"seen_hash": request.current_hash},
                              format="json")
    run = advance(run)

    assert response.status_code == 200
    assert run.status == RunStatus.SUCCEEDED and run.output == {"said": "Hi again."}
    assert len(openai_server.chat_requests) == 1
    assert list(Step.objects.filter(run=run).values_list("kind", "name", "status")) == [
        (StepKind.APPROVAL, "budget:tenant", StepStatus.COMPLETED), (StepKind.LLM, "gpt-4o-mini", StepStatus.COMPLETED)]


def test_a_budget_lowered_again_after_the_approval_pauses_the_run_again(paused, owner_api, openai_server, advance,
                                                                        tenant):
    run, request = paused
    owner_api.put("/api/v1/budgets/", {"daily_limit": "5"}, format="json")
    owner_api.post(f"/api/v1/approvals/{request.pk}/approve/", {"seen_hash": request.current_hash}, format="json")
    limits(tenant, daily_cost_limit=Decimal("2"))  # lowered behind the approval's back

    run = advance(run)

    assert run.status == RunStatus.WAITING
    assert ApprovalRequest.objects.filter(run=run, status=ApprovalStatus.PENDING).count() == 1
    assert openai_server.chat_requests == []


def test_rejecting_the_budget_approval_fails_the_run(paused, owner_api, openai_server, advance):
    run, request = paused

    response = owner_api.post(f"/api/v1/approvals/{request.pk}/reject/",
                              {"seen_hash": request.current_hash, "comment": "Not this month."}, format="json")
    run = advance(run)

    assert response.status_code == 200
    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "tenant_budget_exceeded"
    assert run.error["message"] == "the budget approval was rejected by oona: Not this month."
    assert openai_server.chat_requests == []


def test_only_owners_decide_budget_approvals(paused, member, api_key_for):
    _, request = paused
    approver = APIClient()
    approver.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(member('arthur', Role.APPROVER), request.tenant)}")

    response = approver.post(f"/api/v1/approvals/{request.pk}/reject/",
                             {"seen_hash": request.current_hash, "comment": "No."}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_a_paused_run_crashing_before_it_parks_is_paused_once(paused, advance):
    run, request = paused

    run = advance(run)  # woken (as a recovery would) while the approval is pending

    assert run.status == RunStatus.WAITING
    assert ApprovalRequest.objects.filter(run=run).count() == 1


# -- raising a budget from its approval's page ---------------------------------------------------


def test_the_budget_approval_page_offers_the_owner_the_budgets_the_run_waits_on(paused, staff):
    run, request = paused

    page = staff.get(f"/inbox/{request.pk}/").content.decode()

    assert "The tenant&#x27;s daily budget has spent $2.00 of $2.00 (100%)" in page
    assert 'name="daily_cost_limit" value="2.0000"' in page or 'name="daily_cost_limit" value="2"' in page


def test_an_owner_raises_the_budget_on_the_page_then_approves_and_the_run_goes_on(
        paused, staff, tenant, openai_server, advance):
    from agentops.audit.models import AuditEvent

    run, request = paused
    openai_server.reply("Hi again.")

    saved = staff.post(f"/inbox/{request.pk}/budget/", {"daily_cost_limit": "5", "monthly_cost_limit": "",
                                                        "agent_daily_cost_limit": "", "agent_monthly_cost_limit": ""})
    decided = staff.post(f"/inbox/{request.pk}/decide/", {"verdict": "approve", "seen_hash": request.current_hash,
                                                          "comment": ""})
    run = advance(run)

    assert saved.status_code == 302 and decided.status_code == 302
    tenant.refresh_from_db()
    assert tenant.daily_cost_limit == Decimal("5")
    assert AuditEvent.objects.filter(tenant=tenant, actor_label="oona", action__startswith="tenant.").exists()
    assert run.status == RunStatus.SUCCEEDED and len(openai_server.chat_requests) == 1


def test_a_negative_budget_is_refused_on_the_page_and_nothing_changes(paused, staff, tenant):
    run, request = paused

    response = staff.post(f"/inbox/{request.pk}/budget/", {"daily_cost_limit": "-1", "monthly_cost_limit": "",
                                                           "agent_daily_cost_limit": "", "agent_monthly_cost_limit": ""})

    assert response.status_code == 400 and "greater than or equal to 0" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.daily_cost_limit == Decimal("2")


def test_a_member_who_does_not_set_budgets_sees_no_form_and_cannot_post_one(paused, client, member, tenant):
    run, request = paused
    client.force_login(member("otto", Role.OPERATOR))

    page = client.get(f"/inbox/{request.pk}/")
    refused = client.post(f"/inbox/{request.pk}/budget/", {"daily_cost_limit": "500"})

    assert 'id="budgets"' not in page.content.decode()
    assert refused.status_code == 403
    tenant.refresh_from_db()
    assert tenant.daily_cost_limit == Decimal("2")
