"""The run event stream's contract through Django's test client (WSGI): who may open it, what
it refuses, and the events of what is already there (under WSGI the stream answers with what
there is and closes; the live stream under ASGI is in test_event_stream.py)."""

import pytest
from rest_framework.test import APIClient

from agentops.tenancy.roles import Role
from approvals.models import ApprovalRequest
from runs.engine import execute_run
from runs.models import Run, Step
from tests.factories import AgentFactory, MembershipFactory, UserFactory
from tests.support.event_stream import parse_events

pytestmark = pytest.mark.django_db


def events_of(response) -> list:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    return list(parse_events(body.split("\n")))


def events_url(run_id) -> str:
    return f"/api/v1/runs/{run_id}/events/"


@pytest.fixture
def finished_run(api, tenant):
    AgentFactory(tenant=tenant, slug="counter", version__provider="scripted", version__workflow="test_long_conversation",
                 version__provider_config={"responses": [{"content": "one"}, {"content": "two"}]})
    run_id = api.post("/api/v1/runs/", {"agent": "counter", "input": {"rounds": 2}}, format="json").json()["id"]
    execute_run(run_id)
    return Run.objects.get(pk=run_id)


@pytest.fixture
def waiting_run(api, tenant):
    AgentFactory(tenant=tenant, slug="asker", version__workflow="test_decision")
    run_id = api.post("/api/v1/runs/", {"agent": "asker", "input": {"arguments": {"order": "1042"}}},
                      format="json").json()["id"]
    execute_run(run_id)
    return Run.objects.get(pk=run_id)


def test_a_finished_run_gives_its_status_each_step_once_in_order_and_its_end(api, finished_run):
    events = events_of(api.get(events_url(finished_run.pk), HTTP_ACCEPT="text/event-stream"))

    assert [event.name for event in events] == ["status", "step", "step", "step", "step", "end"]
    assert events[0].data["run"] == str(finished_run.pk) and events[0].data["status"] == "succeeded"
    steps = api.get(f"/api/v1/runs/{finished_run.pk}/steps/").json()["steps"]
    assert [event.data for event in events if event.name == "step"] == steps
    assert [event.id for event in events if event.name == "step"] == [step["seq"] for step in steps]
    assert events[-1].id == steps[-1]["seq"]
    assert events[-1].data == api.get(f"/api/v1/runs/{finished_run.pk}/").json()


@pytest.mark.parametrize("resume", [{"HTTP_LAST_EVENT_ID": "2"}, {"QUERY_STRING": "after=2"}])
def test_a_stream_resumed_after_a_seq_starts_with_the_next_step(api, finished_run, resume):
    events = events_of(api.get(events_url(finished_run.pk), **resume))

    assert [event.id for event in events if event.name == "step"] == [3, 4]


def test_last_event_id_wins_over_after(api, finished_run):
    events = events_of(api.get(events_url(finished_run.pk) + "?after=1", HTTP_LAST_EVENT_ID="3"))

    assert [event.id for event in events if event.name == "step"] == [4]


def test_a_waiting_run_sends_its_approval_with_the_step_and_waits_on_it(api, waiting_run):
    events = events_of(api.get(events_url(waiting_run.pk)))

    assert [event.name for event in events] == ["status", "step", "approval"]
    status, step, approval = events
    assert (status.data["status"], status.data["waiting_on"]) == ("waiting", "approval")
    request = ApprovalRequest.objects.get(run=waiting_run)
    assert approval.data == api.get(f"/api/v1/approvals/{request.pk}/").json()
    assert (approval.data["status"], approval.data["step_seq"], step.data["status"]) == ("pending", step.id, "waiting")


def client_of(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_decided_approval_comes_with_its_decision(api, waiting_run, approver, tenant, api_key_for):
    request = ApprovalRequest.objects.get(run=waiting_run)
    decided = client_of(api_key_for(approver, tenant)).post(f"/api/v1/approvals/{request.pk}/approve/",
                                                            {"seen_hash": request.current_hash}, format="json")
    assert decided.status_code == 200, decided.content
    execute_run(waiting_run.pk)

    events = events_of(api.get(events_url(waiting_run.pk)))

    assert [event.name for event in events] == ["status", "step", "approval", "end"]
    assert events[2].data["status"] == "approved" and events[-1].data["output"]["approved"] is True


def test_stream_true_on_create_answers_with_the_new_runs_stream(api, tenant):
    AgentFactory(tenant=tenant, slug="helper")

    response = api.post("/api/v1/runs/", {"agent": "helper", "message": "Hi", "stream": True}, format="json")

    events = events_of(response)
    run = Run.objects.get()
    assert response["Location"] == f"/api/v1/runs/{run.pk}/"
    assert events[0].name == "status" and events[0].data["run"] == str(run.pk)
    assert events[0].data["status"] == "queued"


def test_another_tenants_run_is_404_and_nothing_is_streamed(finished_run, other_tenant, api_key_for):
    stranger = UserFactory(username="mallory")
    MembershipFactory(user=stranger, tenant=other_tenant, role=Role.OWNER)

    response = client_of(api_key_for(stranger, other_tenant)).get(events_url(finished_run.pk), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("query, header", [("after=-1", None), ("after=x", None), ("since=3", None),
                                           ("", "three"), ("", "²")])
def test_bad_resume_points_and_unknown_parameters_are_refused_in_json(api, finished_run, query, header):
    extra = {"HTTP_LAST_EVENT_ID": header} if header else {}

    response = api.get(f"{events_url(finished_run.pk)}?{query}", HTTP_ACCEPT="text/event-stream", **extra)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid", "unknown_parameter")


def test_a_run_without_steps_after_the_resume_point_gives_only_status_and_end(api, finished_run):
    last = Step.objects.filter(run=finished_run).order_by("-seq").first().seq

    events = events_of(api.get(events_url(finished_run.pk), HTTP_LAST_EVENT_ID=str(last)))

    assert [(event.name, event.id) for event in events] == [("status", None), ("end", last)]
