"""The agents API: each agent with its current version; unknown slugs get the 404 envelope."""

import pytest

from agentops.agents.services import agent_version_create
from agentops.audit.services import Actor
from agentops.tenancy.roles import Role


def test_the_detail_shows_the_current_version(api, agent):
    agent_version_create(agent=agent, config={"system_prompt": "Version two."}, actor=Actor.system("test"))

    response = api.get("/api/v1/agents/support/")

    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "support"
    assert body["current_version"]["number"] == 2
    assert body["current_version"]["system_prompt"] == "Version two."


def test_the_list_shows_each_agents_current_version(api, agent):
    agent_version_create(agent=agent, config={"model": "demo-large"}, actor=Actor.system("test"))

    [listed] = api.get("/api/v1/agents/").json()["results"]

    assert (listed["current_version"]["number"], listed["current_version"]["model"]) == (2, "demo-large")


def test_an_unknown_slug_gets_the_404_envelope(api, agent):
    response = api.get("/api/v1/agents/nope/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": response.json()["error"]["message"],
                                         "details": None}}
    assert response.json()["error"]["message"]


def test_agents_cannot_be_changed_through_the_read_only_api(api, agent):
    response = api.post("/api/v1/agents/", {"slug": "new"}, format="json")

    assert response.status_code in (403, 405)
    assert response.json()["error"]["code"] in ("permission_denied", "method_not_allowed")
    assert agent.versions.count() == 1


def test_a_developer_changes_the_child_rules_with_a_new_version(client_for, agent):
    developer = client_for(Role.DEVELOPER, scopes=("read", "agents:write"))

    response = developer.patch("/api/v1/agents/support/", {"child_workflows": ["agent_loop"], "max_child_depth": 1},
                               format="json")

    assert response.status_code == 200
    version = response.json()["current_version"]
    assert (version["number"], version["child_workflows"], version["max_child_depth"]) == (2, ["agent_loop"], 1)


@pytest.mark.parametrize("change, field", [
    ({"child_workflows": "agent_loop"}, "child_workflows"),
    ({"child_workflows": ["no spaces allowed"]}, "child_workflows"),
    ({"max_child_depth": 11}, "max_child_depth"),
])
def test_child_rules_that_cannot_hold_are_refused_with_the_field(client_for, agent, change, field):
    developer = client_for(Role.DEVELOPER, scopes=("read", "agents:write"))

    response = developer.patch("/api/v1/agents/support/", change, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert agent.versions.count() == 1


def test_an_operator_may_not_change_an_agent(api, agent):
    response = api.patch("/api/v1/agents/support/", {"max_child_depth": 1}, format="json")

    assert response.status_code == 403 and agent.versions.count() == 1


def test_an_owner_restricts_an_agent_to_members_and_groups(client_for, agent, tenant, member, tenant_group):
    owner = client_for(Role.OWNER, scopes=("read", "agents:write"))
    member("rita", Role.OPERATOR)
    tenant_group(tenant, "vip-desk")

    response = owner.put("/api/v1/agents/support/access/",
                         {"restricted": True, "users": ["rita"], "groups": ["vip-desk"]}, format="json")

    assert response.status_code == 200
    assert owner.get("/api/v1/agents/support/access/").json() == {
        "restricted": True, "users": ["rita"], "groups": ["vip-desk"]}
    assert owner.get("/api/v1/agents/support/").json()["restricted"] is True


def test_access_naming_another_tenants_member_or_group_is_refused(client_for, agent, other_tenant, member,
                                                                  tenant_group):
    owner = client_for(Role.OWNER, scopes=("read", "agents:write"))
    member("gus", Role.OPERATOR, in_tenant=other_tenant)
    tenant_group(other_tenant, "globex-desk")

    response = owner.put("/api/v1/agents/support/access/",
                         {"restricted": True, "users": ["gus"], "groups": ["globex-desk"]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"users": ["No member gus in this tenant."]}
    assert owner.get("/api/v1/agents/support/access/").json()["restricted"] is False
