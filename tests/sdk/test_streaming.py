"""runs.stream and runs.create(stream=True) read server-sent events, typed, and resume a dropped
connection with Last-Event-ID so that no step is lost or repeated. Against a scripted local SSE
server: the reader's behaviour on drops is what is tested here, whatever the app does."""

import asyncio
import json

import pytest
from agentops_client import AgentOps, APIConnectionError, AsyncAgentOps, NotFoundError, Run, StatusChange, Step

from tests.support.tool_servers import Reply, ScriptedHTTPServer

RUN = "3f2b8c1e-0000-4000-8000-000000000001"


def sse(event: str, data: dict, id: int | None = None) -> str:
    return (f"id: {id}\n" if id is not None else "") + f"event: {event}\ndata: {json.dumps(data)}\n\n"


def stream(text: str, *, dropped: bool = False) -> Reply:
    """One connection's answer; `dropped`: the connection breaks after the text (body incomplete)."""
    return Reply(200, text, headers={"Cache-Control": "no-cache"}, missing=100 if dropped else 0)


def last_event_ids(server) -> list:
    return [request.headers.get("last-event-id") for request in server.requests]


def step(seq: int, name: str) -> dict:
    return {"seq": seq, "kind": "code", "name": name, "status": "succeeded", "parent_seq": None}


def status(value: str) -> dict:
    return {"run": RUN, "status": value, "waiting_on": None, "updated_at": "2026-01-01T00:00:00Z"}


END = sse("end", {"id": RUN, "status": "succeeded", "output": {"ok": True}}, id=3)


@pytest.fixture
def server():
    with ScriptedHTTPServer() as running:
        yield running


@pytest.fixture
def client(server):
    with AgentOps(api_key="ak_test", base_url=server.url, max_retries=2) as sdk:
        yield sdk


def test_events_are_typed_and_the_stream_stops_at_end(server, client):
    server.reply(stream(": keepalive\n\n" + sse("status", status("running")) + sse("step", step(1, "a"), id=1)
                           + sse("delta", {"seq": 2, "delta": "Hel"}) + sse("delta", {"seq": 2, "delta": "lo"})
                           + END))

    events = list(client.runs.stream(RUN))

    assert [event.type for event in events] == ["status", "step", "delta", "delta", "end"]
    assert isinstance(events[0].data, StatusChange) and events[0].data.status == "running"
    assert isinstance(events[1].data, Step) and events[1].id == "1"
    assert "".join(event.data.delta for event in events if event.type == "delta") == "Hello"
    assert isinstance(events[-1].data, Run) and events[-1].data.output == {"ok": True}
    assert server.requests[0].path == f"/api/v1/runs/{RUN}/events/"


def test_a_dropped_connection_resumes_after_the_last_step(server, client):
    half_sent = 'id: 3\nevent: step\ndata: {"seq": 3,\n'  # an event cut short: the next connection must not finish it
    server.reply(stream(sse("step", step(1, "a"), id=1) + sse("step", step(2, "b"), id=2) + half_sent, dropped=True),
                stream(sse("step", step(3, "c"), id=3) + END))

    steps = [event.data.seq for event in client.runs.stream(RUN) if event.type == "step"]

    assert steps == [1, 2, 3]
    assert last_event_ids(server) == [None, "2"]


def test_a_stream_closed_before_the_end_is_resumed_too(server, client):
    server.reply(stream(sse("step", step(1, "a"), id=1)), stream(END))

    assert [event.type for event in client.runs.stream(RUN, after=0)] == ["step", "end"]
    assert last_event_ids(server) == ["0", "1"]


def test_a_stream_that_keeps_dropping_without_progress_gives_up(server, client):
    server.reply(*[stream(": keepalive\n", dropped=True)] * 3)

    with pytest.raises(APIConnectionError, match="kept dropping"):
        list(client.runs.stream(RUN))

    assert len(server.requests) == 3


def test_an_unknown_run_is_not_found(server, client):
    server.reply(Reply(404, {"error": {"code": "not_found", "message": "no run", "details": None}}))

    with pytest.raises(NotFoundError):
        list(client.runs.stream(RUN))


def test_create_with_stream_posts_once_then_resumes_the_run_it_learned(server, client):
    server.reply(stream(sse("status", status("queued")) + sse("step", step(1, "a"), id=1), dropped=True),
                stream(sse("step", step(2, "b"), id=2) + END))

    events = list(client.runs.create(agent="helper", message="hi", stream=True))

    assert [event.type for event in events] == ["status", "step", "step", "end"]
    first, second = server.requests
    assert first.method == "POST" and first.json() == {"agent": "helper", "message": "hi", "stream": True}
    assert (second.method, second.path, last_event_ids(server)[1]) == ("GET", f"/api/v1/runs/{RUN}/events/", "1")


def test_a_create_dropped_before_its_run_is_known_is_repeated_with_the_same_key(server, client):
    server.reply(stream(": keepalive\n", dropped=True),
                stream(sse("status", status("queued")) + sse("step", step(1, "a"), id=1) + END))

    events = list(client.runs.create(agent="helper", message="hi", stream=True))

    assert [event.type for event in events] == ["status", "step", "end"]
    assert [request.method for request in server.requests] == ["POST", "POST"]
    assert server.requests[0].headers["idempotency-key"] == server.requests[1].headers["idempotency-key"]


def test_the_async_client_resumes_the_same_way(server):
    server.reply(stream(sse("step", step(1, "a"), id=1), dropped=True), stream(sse("step", step(2, "b"), id=2) + END))

    async def read():
        async with AsyncAgentOps(api_key="ak_test", base_url=server.url) as sdk:
            return [event.type async for event in sdk.runs.stream(RUN)]

    assert asyncio.run(read()) == ["step", "step", "end"]
    assert last_event_ids(server) == [None, "1"]
