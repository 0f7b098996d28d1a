"""The agents API: each agent with its current version; unknown slugs get the 404 envelope."""

from agentops.agents.services import agent_version_create
from agentops.audit.services import Actor


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
