"""Starting runs from the pages: the Run agent form and Replay on the trace, both through the
service the API uses (permissions, idempotency, audit)."""

import pytest
from django.urls import reverse

from agentops.agents.models import AgentVersion
from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from runs.models import Run, RunStatus
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db


def start(client, **fields):
    data = {"agent": "support", "message": "", "input": "", "thread": "", "version": "", "idempotency_key": "k1"}
    return client.post(reverse("runs:start"), {**data, **fields})


def test_run_agent_starts_a_run_and_opens_its_trace(client, operator, agent):
    client.force_login(operator)

    response = start(client, message="Where is order 1042?", thread="t-7")

    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("runs:trace", args=[run.pk])
    assert run.input == {"message": "Where is order 1042?"} and run.thread == "t-7"
    assert run.status == RunStatus.QUEUED and run.created_by == operator
    assert AuditEvent.objects.filter(action="run.created", target_id=str(run.pk)).count() == 1


def test_run_agent_takes_a_json_input_and_a_version(client, operator, agent):
    client.force_login(operator)
    AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")

    start(client, input='{"order": 1042}', version="1")

    run = Run.objects.get()
    assert run.input == {"order": 1042} and run.agent_version.number == 1


def test_a_double_submit_starts_one_run(client, operator, agent):
    client.force_login(operator)

    first, second = start(client, message="Hi"), start(client, message="Hi")

    assert Run.objects.count() == 1 and first["Location"] == second["Location"]


@pytest.mark.parametrize("fields, error", [
    ({}, "Give a message or an input"),
    ({"message": "Hi", "input": "{}"}, "Give a message or an input"),
    ({"input": "[1, 2]"}, "must be a JSON object"),
    ({"input": "{oops"}, "not valid JSON"),
    ({"message": "Hi", "version": "9"}, "has no version 9"),
    ({"message": "Hi", "agent": "nobody"}, "no agent &#x27;nobody&#x27;"),
])
def test_bad_input_is_shown_on_the_form_and_starts_nothing(client, operator, agent, fields, error):
    client.force_login(operator)

    response = start(client, **fields)

    assert response.status_code == 400 and error in response.content.decode()
    assert not Run.objects.exists()


def test_a_viewer_may_not_run_agents(client, member, agent):
    client.force_login(member("vera", Role.VIEWER))

    assert client.get(reverse("runs:start")).status_code == 403
    assert start(client, message="Hi").status_code == 403
    assert not Run.objects.exists()


def test_replay_starts_the_same_input_with_the_current_version(client, operator, agent):
    client.force_login(operator)
    first = make_run(agent, status=RunStatus.SUCCEEDED, thread="t-1", metadata={"source": "web"})
    AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")
    agent.current_version = AgentVersion.objects.get(agent=agent, number=2)
    agent.save()

    response = client.post(reverse("runs:replay", args=[first.pk]), {"version": "current", "idempotency_key": "r1"})

    replay = Run.objects.exclude(pk=first.pk).get()
    assert response["Location"] == reverse("runs:trace", args=[replay.pk])
    assert replay.input == first.input and replay.thread == "t-1" and replay.agent_version.number == 2
    assert replay.metadata == {"source": "web", "replay_of": str(first.pk)}
    assert AuditEvent.objects.get(action="run.created", target_id=str(replay.pk)).data["replay_of"] == str(first.pk)


def test_replay_on_the_pinned_version(client, operator, agent):
    client.force_login(operator)
    first = make_run(agent, status=RunStatus.FAILED)
    AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")
    agent.current_version = AgentVersion.objects.get(agent=agent, number=2)
    agent.save()

    client.post(reverse("runs:replay", args=[first.pk]), {"version": "pinned", "idempotency_key": "r1"})
    client.post(reverse("runs:replay", args=[first.pk]), {"version": "pinned", "idempotency_key": "r1"})

    replays = Run.objects.exclude(pk=first.pk)
    assert [r.agent_version.number for r in replays] == [1]  # the double click started one


def test_the_trace_offers_replay_only_to_who_may_run_agents(client, operator, member, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED)
    client.force_login(operator)
    assert "Replay this run" in client.get(reverse("runs:trace", args=[run.pk])).content.decode()

    client.force_login(member("vera", Role.VIEWER))
    assert "Replay this run" not in client.get(reverse("runs:trace", args=[run.pk])).content.decode()
    assert client.post(reverse("runs:replay", args=[run.pk]), {"version": "current"}).status_code == 403
    assert Run.objects.count() == 1


def test_another_tenants_run_cannot_be_replayed(client, other_tenant, member, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED)
    client.force_login(member("mallory", Role.OPERATOR, in_tenant=other_tenant))

    assert client.post(reverse("runs:replay", args=[run.pk]), {"version": "current"}).status_code == 404
    assert Run.objects.count() == 1
