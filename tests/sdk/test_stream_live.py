"""The SDK's stream reader against the real event stream: daphne serving the project's ASGI app on
a real port and a real worker, both on the test database (with Redis when the suite runs with it)."""

import asyncio

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def types(events) -> list[str]:
    return [event.type for event in events]


def test_create_with_stream_true_follows_the_run_to_its_end(sdk, helper, web, worker):
    events = list(sdk(base_url=web.base).runs.create(agent="helper", message="Hello there", stream=True))

    status, end = events[0], events[-1]
    assert status.type == "status" and end.type == "end" and types(events).count("end") == 1
    assert end.data.status == "succeeded" and end.data.id == status.data.run, worker.output()
    steps = [event.data.seq for event in events if event.type == "step"]
    assert steps == sorted(set(steps)) and steps and end.id == str(steps[-1])
    assert "".join(event.data.delta for event in events if event.type == "delta").strip()


def test_a_stream_resumed_after_a_step_sends_only_the_steps_after_it(sdk, helper, web, worker):
    client = sdk(base_url=web.base)
    run = client.runs.create(agent="helper", message="Hello again")
    everything = [event.data.seq for event in client.runs.stream(run.id) if event.type == "step"]

    resumed = list(client.runs.stream(run.id, after=everything[0]))

    assert [event.data.seq for event in resumed if event.type == "step"] == everything[1:]
    assert resumed[-1].type == "end"


def test_an_approval_seen_in_the_stream_is_decided_and_the_stream_goes_on_to_the_end(sdk, gatekeeper, web, worker,
                                                                                       approver_key):
    client, approvals = sdk(base_url=web.base), sdk(base_url=web.base, key=approver_key).approvals
    seen = []
    for event in client.runs.create(agent="gatekeeper", input={"arguments": {"amount": 80}}, stream=True):
        seen.append(event)
        if event.type == "approval" and event.data.status == "pending":
            approvals.approve(event.data.id, seen_hash=event.data.seen_hash, comment="fine")

    decided = [event.data.status for event in seen if event.type == "approval"]
    assert decided == ["pending", "approved"], worker.output()
    assert seen[-1].type == "end" and seen[-1].data.output["approved"] is True


def test_the_async_client_streams_a_run_to_its_end(async_sdk, helper, web, worker):
    async def follow():
        async with async_sdk(base_url=web.base) as client:
            run = await client.runs.create(agent="helper", message="async stream")
            return [event async for event in client.runs.stream(run.id)]

    events = asyncio.run(follow())

    assert events[0].type == "status" and events[-1].type == "end" and events[-1].data.status == "succeeded"
