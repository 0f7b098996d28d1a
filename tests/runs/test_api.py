"""The runs API: create (with idempotency), list, detail, steps, cancel; errors as the envelope."""

import pytest
from rest_framework.test import APIClient

from agentops.agents.models import Agent, AgentVersion
from agentops.tenancy.roles import Role
from runs.engine import execute_run
from runs.models import Run, RunStatus
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripted_agent(tenant):
    return AgentFactory(tenant=tenant, slug="helper", version__provider="scripted",
                        version__provider_config={"responses": [{"content": "Hello there."}]})


def test_posting_a_message_starts_a_run_that_a_worker_completes(api, scripted_agent):
    response = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["input"] == {"message": "Hi"}
    execute_run(body["id"])
    detail = api.get(f"/api/v1/runs/{body['id']}/").json()
    assert detail["status"] == "succeeded" and detail["output"]["answer"] == "Hello there."


def test_same_idempotency_key_returns_the_same_run(api, scripted_agent):
    first = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Run.objects.count() == 1


def test_reusing_an_idempotency_key_for_another_request_is_a_conflict(api, scripted_agent):
    api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = api.post("/api/v1/runs/", {"agent": "helper", "message": "Bye"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert Run.objects.count() == 1


@pytest.mark.parametrize("payload, field", [
    ({"agent": "helper"}, "input"),
    ({"agent": "helper", "message": "a", "input": {}}, "input"),
    ({"agent": "helper", "input": [1, 2]}, "input"),
    ({"message": "a"}, "agent"),
    ({"agent": "helper", "message": "a", "on_behalf_of": "nobody"}, "on_behalf_of"),
])
def test_invalid_requests_get_a_400_envelope_and_start_nothing(api, scripted_agent, payload, field):
    response = api.post("/api/v1/runs/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and field in response.json()["error"]["details"]
    assert Run.objects.count() == 0


def test_unknown_agent_is_a_readable_error(api):
    response = api.post("/api/v1/runs/", {"agent": "ghost", "message": "a"}, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_agent"


def test_a_key_without_runs_write_cannot_start_runs(operator, tenant, api_key_for, scripted_agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(operator, tenant, scopes=['read'])}")

    response = client.post("/api/v1/runs/", {"agent": "helper", "message": "a"}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert Run.objects.count() == 0


def test_a_viewer_cannot_start_runs_whatever_the_key_scopes(member, tenant, api_key_for, scripted_agent):
    viewer = member("vic", Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(viewer, tenant, scopes=['read', 'runs:write'])}")

    assert client.post("/api/v1/runs/", {"agent": "helper", "message": "a"}, format="json").status_code == 403


def test_another_tenants_run_is_not_found(api, other_tenant, member, api_key_for):
    outsider = member("otto", Role.OPERATOR, in_tenant=other_tenant)
    agent = AgentFactory(tenant=other_tenant, slug="theirs")
    run = Run.objects.create(tenant=other_tenant, agent=agent, agent_version=agent.current_version,
                             workflow="agent_loop", created_by=outsider)

    for path in (f"/api/v1/runs/{run.pk}/", f"/api/v1/runs/{run.pk}/steps/"):
        assert api.get(path).status_code == 404
    assert api.post(f"/api/v1/runs/{run.pk}/cancel/").status_code == 404
    assert [r["id"] for r in api.get("/api/v1/runs/").json()["results"]] == []


def test_steps_page_by_seq_and_link_the_full_prompt(api, scripted_agent, settings):
    settings.JOURNAL_BLOB_THRESHOLD = 10
    run_id = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json").json()["id"]
    execute_run(run_id)

    steps = api.get(f"/api/v1/runs/{run_id}/steps/").json()["steps"]
    later = api.get(f"/api/v1/runs/{run_id}/steps/?after=1").json()["steps"]

    llm = next(s for s in steps if s["kind"] == "llm")
    assert [s["kind"] for s in steps] == ["code", "llm"] and [s["seq"] for s in later] == [2]
    assert api.get(llm["prompt_url"]).json()["prompt"][-1] == {"role": "user", "content": "Hi"}
    assert llm["output"]["content"] == "Hello there."  # stored as a blob, given whole


def test_cancel_a_queued_run_then_cancelling_again_is_a_conflict(api, scripted_agent):
    run_id = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json").json()["id"]

    first = api.post(f"/api/v1/runs/{run_id}/cancel/")
    second = api.post(f"/api/v1/runs/{run_id}/cancel/")

    assert first.status_code == 200 and first.json()["status"] == RunStatus.CANCELLED
    assert second.status_code == 409 and second.json()["error"]["code"] == "not_cancellable"


def test_list_filters_by_status_and_rejects_unknown_statuses(api, scripted_agent):
    run_id = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi"}, format="json").json()["id"]
    execute_run(run_id)

    assert [r["id"] for r in api.get("/api/v1/runs/?status=succeeded").json()["results"]] == [run_id]
    assert api.get("/api/v1/runs/?status=queued").json()["results"] == []
    assert api.get("/api/v1/runs/?status=bogus").status_code == 400


def test_list_filters_by_thread(api, scripted_agent):
    ours = api.post("/api/v1/runs/", {"agent": "helper", "message": "a", "thread": "t-1"}, format="json").json()["id"]
    api.post("/api/v1/runs/", {"agent": "helper", "message": "b", "thread": "t-2"}, format="json")

    assert [r["id"] for r in api.get("/api/v1/runs/?thread=t-1").json()["results"]] == [ours]
    assert len(api.get("/api/v1/runs/").json()["results"]) == 2


def test_on_behalf_of_a_member_is_recorded(api, scripted_agent, member):
    member("erin", Role.VIEWER)

    response = api.post("/api/v1/runs/", {"agent": "helper", "message": "a", "on_behalf_of": "erin"}, format="json")

    assert response.status_code == 201 and response.json()["on_behalf_of"] == "erin"


def test_on_behalf_of_cannot_tell_an_unknown_username_from_another_tenants_user(api, scripted_agent, member,
                                                                                 other_tenant):
    member("stranger", Role.OPERATOR, in_tenant=other_tenant)

    def refusal(username):
        response = api.post("/api/v1/runs/", {"agent": "helper", "message": "a", "on_behalf_of": username},
                            format="json")
        error = response.json()["error"]
        return response.status_code, error["code"], error["details"]["on_behalf_of"][0].replace(repr(username), "X")

    assert refusal("stranger") == refusal("nobody-at-all") == (
        400, "invalid", "No member of this tenant is called X.")
    assert Run.objects.count() == 0


def test_a_run_of_an_earlier_version_and_of_one_that_does_not_exist(api, scripted_agent):
    AgentVersion.objects.create(agent=scripted_agent, number=2, provider="scripted")
    Agent.objects.filter(pk=scripted_agent.pk).update(current_version=AgentVersion.objects.get(number=2))

    earlier = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi", "version": 1}, format="json")
    missing = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi", "version": 7}, format="json")

    assert earlier.status_code == 201 and earlier.json()["agent_version"] == 1
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "unknown_version"
    assert Run.objects.count() == 1
