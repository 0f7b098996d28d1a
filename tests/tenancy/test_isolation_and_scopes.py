"""A key sees only its own tenant, needs the scope for what it does, and never outgrows its user's role."""

import pytest

from agentops.audit.services import Actor
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from agentops.tenancy.services import api_key_create
from runs.models import Run
from tests.factories import AgentFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def key_principal(tenant):
    """key_principal(user, scopes) → the Principal of a fresh key of `user` in `tenant`."""

    def make(user, scopes):
        key, _ = api_key_create(tenant=tenant, user=user, name="k", scopes=scopes, actor=SYSTEM)
        return Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant),
                         api_key=key)

    return make


def test_a_key_lists_only_the_agents_of_its_own_tenant(operator, tenant, other_tenant, api_key_for, bearer):
    AgentFactory(tenant=tenant, slug="support")
    AgentFactory(tenant=other_tenant, slug="billing")

    response = bearer(api_key_for(operator, tenant, ["read"])).get("/api/v1/agents/")

    assert response.status_code == 200
    assert [a["slug"] for a in response.json()["results"]] == ["support"]


def test_a_key_gets_404_for_an_agent_of_another_tenant(operator, tenant, other_tenant, api_key_for, bearer):
    AgentFactory(tenant=other_tenant, slug="billing")

    response = bearer(api_key_for(operator, tenant, ["read"])).get("/api/v1/agents/billing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_slug_used_by_two_tenants_resolves_to_the_keys_own_agent(operator, tenant, other_tenant, api_key_for,
                                                                  bearer):
    AgentFactory(tenant=tenant, slug="support", name="Ours")
    AgentFactory(tenant=other_tenant, slug="support", name="Theirs")

    response = bearer(api_key_for(operator, tenant, ["read"])).get("/api/v1/agents/support/")

    assert response.status_code == 200 and response.json()["name"] == "Ours"


def test_a_key_of_a_user_in_two_tenants_still_sees_only_the_keys_tenant(member, tenant, other_tenant, api_key_for,
                                                                        bearer):
    user = member("dana", Role.OPERATOR)
    Membership.objects.create(user=user, tenant=other_tenant, role=Role.OWNER)
    AgentFactory(tenant=other_tenant, slug="billing")

    client = bearer(api_key_for(user, tenant, ["read"]))

    assert client.get("/api/v1/agents/").json()["results"] == []
    assert client.get("/api/v1/agents/billing/").status_code == 404


def test_a_key_without_the_read_scope_cannot_list(operator, tenant, agent, api_key_for, bearer):
    response = bearer(api_key_for(operator, tenant, ["runs:write"])).get("/api/v1/agents/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "results" not in response.json()


def test_a_viewers_key_with_runs_write_still_cannot_run_agents(member, key_principal):
    viewer = member("vic", Role.VIEWER)

    principal = key_principal(viewer, ["read", "runs:write"])

    assert principal.can("view", "read")
    assert not principal.can("run_agents", "runs:write")


def test_an_operators_key_without_runs_write_cannot_run_agents(operator, key_principal):
    principal = key_principal(operator, ["read"])

    assert not principal.can("run_agents", "runs:write")


def test_an_operators_key_with_runs_write_can_run_agents(operator, key_principal):
    principal = key_principal(operator, ["read", "runs:write"])

    assert principal.can("run_agents", "runs:write")


def test_a_signed_in_user_needs_only_the_role_permission(operator, tenant):
    principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator))

    assert principal.can("run_agents", "runs:write")
    assert not principal.can("manage_members")


def test_an_approvers_key_with_runs_write_cannot_start_a_run_over_the_api(approver, tenant, agent, api_key_for,
                                                                           bearer):
    response = bearer(api_key_for(approver, tenant, ["read", "runs:write"])).post(
        "/api/v1/runs/", {"agent": "support", "input": {"message": "hi"}}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Run.objects.exists()
