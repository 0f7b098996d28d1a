"""Who may start an agent: every member whose role runs agents, or, once the agent is restricted,
only the users and the tenant's groups given access. Every way of starting a run keeps the rule,
and each refusal is audited."""

import pytest
from django.core.management import CommandError, call_command
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from agentops.agents.errors import AgentInvalid
from agentops.agents.selectors import agent_access_get, user_may_start_agent
from agentops.agents.services import agent_access_set
from agentops.audit.services import Actor
from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from runs.models import Run
from tests.factories import AgentFactory


pytestmark = pytest.mark.django_db

ADMIN = Actor.system("test")


@pytest.fixture
def restricted(tenant, member):
    """The agent `vip`, restricted to the operator rita."""
    agent = AgentFactory(tenant=tenant, slug="vip")
    agent_access_set(agent=agent, restricted=True, users=[member("rita", Role.OPERATOR)], groups=[], actor=ADMIN)
    return agent


def client_of(user, tenant, api_key_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, tenant)}")
    return client


def test_an_open_agent_is_started_by_any_member_who_runs_agents(api, agent):
    response = api.post("/api/v1/runs/", {"agent": agent.slug, "message": "hi"}, format="json")

    assert response.status_code == 201


def test_a_member_outside_a_restricted_agents_users_is_refused_by_the_api_and_audited(
        api, restricted, operator, audited):
    response = api.post("/api/v1/runs/", {"agent": "vip", "message": "hi"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "agent_restricted"
    assert "olivia may not start vip" in response.json()["error"]["message"]
    assert not Run.objects.exists()
    [event] = audited("run.refused")
    assert event["agent"] == "vip" and event["user"] == "olivia" and event["code"] == "agent_restricted"


def test_a_user_given_access_starts_the_restricted_agent(restricted, tenant, api_key_for, django_user_model):
    rita = django_user_model.objects.get(username="rita")

    response = client_of(rita, tenant, api_key_for).post("/api/v1/runs/", {"agent": "vip", "message": "hi"},
                                                         format="json")

    assert response.status_code == 201


def test_a_member_of_a_group_given_access_starts_it(restricted, tenant, operator, tenant_group):
    group = tenant_group(tenant, "vip-desk", operator)
    agent_access_set(agent=restricted, restricted=True, users=[], groups=[group], actor=ADMIN)

    assert user_may_start_agent(user=operator, agent=restricted)


def test_a_group_of_another_tenant_grants_nothing(restricted, other_tenant, operator, tenant_group):
    foreign = tenant_group(other_tenant, "globex-desk", operator)
    assign_perm("agents.start_agent", foreign, restricted)  # as if written around the service

    assert not user_may_start_agent(user=operator, agent=restricted)


def test_access_names_only_the_tenants_members_and_groups(restricted, other_tenant, member, tenant_group):
    stranger = member("gus", Role.OPERATOR, in_tenant=other_tenant)
    foreign = tenant_group(other_tenant, "globex-desk")

    with pytest.raises(AgentInvalid) as refused:
        agent_access_set(agent=restricted, restricted=True, users=[stranger], groups=[foreign], actor=ADMIN)

    assert refused.value.details == {"users": ["Not members of acme: gus."],
                                     "groups": ["Not groups of acme: globex-desk."]}
    assert agent_access_get(agent=restricted)["users"] == ["rita"]


def test_a_change_of_access_is_audited_with_before_and_after(restricted, operator):
    agent_access_set(agent=restricted, restricted=False, users=[operator], groups=[], actor=ADMIN)

    assert agent_access_get(agent=restricted) == {"restricted": False, "users": ["olivia"], "groups": []}
    assert AuditEvent.objects.filter(action="agent.access_changed").order_by("pk").last().changes == {
        "restricted": [True, False], "users": [["rita"], ["olivia"]]}


def test_the_command_refuses_a_member_outside_the_users(restricted, operator, audited):
    with pytest.raises(CommandError, match="olivia may not start vip"):
        call_command("run_agent", "vip", "hi", "--tenant", "acme", "--user", "olivia")

    assert not Run.objects.exists()
    assert [e["code"] for e in audited("run.refused")] == ["agent_restricted"]


def test_opening_the_agent_again_lets_every_runner_start_it(api, restricted):
    agent_access_set(agent=restricted, restricted=False, users=[], groups=[], actor=ADMIN)

    assert api.post("/api/v1/runs/", {"agent": "vip", "message": "hi"}, format="json").status_code == 201
