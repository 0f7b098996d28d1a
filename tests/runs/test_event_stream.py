"""The live run event stream on a real port: daphne serving the project's ASGI app, a real worker,
the local OpenAI-compatible server streaming its completions. Each test runs in the embedded
shape (no Redis: the follower polls, deltas go through datagram sockets) and with Redis (the
worker's notices and deltas on the channel layer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from runs.models import Step
from tests.factories import AgentFactory
from tests.support.event_stream import open_stream, web_server
from tests.support.openai_server import OpenAIServer
from tests.support.workers import running_worker

pytest_plugins = ["tests.support.browser"]  # redis_url
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Stack:
    """Web server and worker sharing the test database, with or without Redis. Runs are created
    and decided through the server, so that they reach the worker by its own broker."""

    def __init__(self, redis_url: str | None, key: str):
        self.redis_url, self.key = redis_url, key

    def server(self, **env):
        return web_server(self.redis_url, **env)

    def worker(self):
        return running_worker(REDIS_URL=self.redis_url or "")


@pytest.fixture
def openai_server():
    with OpenAIServer() as server:
        yield server


@pytest.fixture(params=["embedded", "redis"])
def stack(request, operator, tenant, api_key_for, allow_outbound, openai_server):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    allow_outbound(openai_server.base_url)
    AgentFactory(tenant=tenant, slug="streamer", version__provider="openai", version__model="gpt-test",
                 version__provider_config={"base_url": openai_server.base_url, "timeout": 10})
    AgentFactory(tenant=tenant, slug="chatty", version__provider="openai", version__model="gpt-test",
                 version__workflow="test_long_conversation",
                 version__provider_config={"base_url": openai_server.base_url, "timeout": 10})
    AgentFactory(tenant=tenant, slug="asker", version__workflow="test_decision")
    return Stack(redis_url, api_key_for(operator, tenant))


def journal_seqs(run_id) -> list[int]:
    return list(Step.objects.filter(run_id=run_id).order_by("seq").values_list("seq", flat=True))


def test_a_run_started_with_stream_true_streams_the_models_text_then_its_steps_and_its_end(stack, openai_server):
    openai_server.reply("Your order ships today.", chunks=["Your ", "order ", "ships ", "today."], chunk_delay=0.4)

    with stack.worker(), stack.server() as server:  # the worker boots while the server does
        with open_stream(server.url("/api/v1/runs/"), stack.key, method="POST",
                         json_body={"agent": "streamer", "message": "Where is my order?", "stream": True}) as events:
            location = events.response.headers["Location"]
            seen = events.until("end")

    run_id = seen[0].data["run"]
    assert location == f"/api/v1/runs/{run_id}/"
    assert seen[0].name == "status" and seen[-1].name == "end" and seen[-1].data["status"] == "succeeded"
    deltas = [event for event in seen if event.name == "delta"]
    assert "".join(event.data["delta"] for event in deltas) == "Your order ships today."
    assert len(deltas) >= 3  # piece by piece, as the model wrote it, not all at the end
    model_step = next(event for event in seen if event.name == "step" and event.data["kind"] == "llm")
    assert {event.data["seq"] for event in deltas} == {model_step.id}
    assert seen.index(deltas[-1]) < seen.index(model_step)
    assert [event.id for event in seen if event.name == "step"] == journal_seqs(run_id)
    assert seen[-1].id == journal_seqs(run_id)[-1]


def test_a_dropped_stream_resumed_with_last_event_id_misses_no_step_and_repeats_none(stack, openai_server):
    openai_server.enqueue(*({"content": f"turn {i} done", "chunk_delay": 0.2} for i in range(4)))

    with stack.worker(), stack.server() as server:  # the worker boots while the server does
        with open_stream(server.url("/api/v1/runs/"), stack.key, method="POST",
                         json_body={"agent": "chatty", "input": {"rounds": 4}, "stream": True}) as events:
            first = events.until("status")
            while len([event for event in first if event.name == "step"]) < 3:
                first += events.until("step")
        run_id = first[0].data["run"]
        last = [event.id for event in first if event.name == "step"][-1]
        with open_stream(server.url(f"/api/v1/runs/{run_id}/events/"), stack.key,
                         headers={"Last-Event-ID": str(last)}) as events:
            second = events.until("end")

    steps = [event.id for event in first + second if event.name == "step"]
    assert steps == journal_seqs(run_id) and len(steps) == 8
    assert second[0].name == "status" and second[1].id == last + 1


def test_a_waiting_run_streams_its_approval_and_goes_on_when_it_is_decided(stack, approver, tenant, api_key_for):
    with stack.worker(), stack.server() as server:  # the worker boots while the server does
        with open_stream(server.url("/api/v1/runs/"), stack.key, method="POST",
                         json_body={"agent": "asker", "input": {"arguments": {"order": "1042"}}, "stream": True}) as events:
            asked = events.until("approval")
            approval = asked[-1].data
            decided = httpx.post(server.url(f"/api/v1/approvals/{approval['id']}/approve/"),
                                 json={"seen_hash": approval["seen_hash"]},
                                 headers={"Authorization": f"Bearer {api_key_for(approver, tenant)}"})
            assert decided.status_code == 200, decided.text
            rest = events.until("end")

    assert approval["status"] == "pending" and asked[-2].data["status"] == "waiting"
    statuses = [(event.data["status"], event.data["waiting_on"]) for event in asked + rest if event.name == "status"]
    assert ("waiting", "approval") in statuses and statuses[-1] == ("succeeded", None)
    assert [event.data["status"] for event in rest if event.name == "approval"] == ["approved"]
    assert rest[-1].data["output"]["approved"] is True


def test_another_tenants_run_is_404_on_the_live_server(stack, other_tenant, api_key_for):
    from agentops.tenancy.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    stranger = UserFactory(username="mallory")
    MembershipFactory(user=stranger, tenant=other_tenant, role=Role.OWNER)
    with stack.server() as server:
        created = httpx.post(server.url("/api/v1/runs/"), json={"agent": "streamer", "message": "Hi"},
                             headers={"Authorization": f"Bearer {stack.key}"})
        response = httpx.get(server.url(f"/api/v1/runs/{created.json()['id']}/events/"),
                             headers={"Authorization": f"Bearer {api_key_for(stranger, other_tenant)}",
                                      "Accept": "text/event-stream"})

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


IDLE_STREAMS = 200


def database_connections_of(pid: int) -> int:
    """The web process's connections to the test database: PostgreSQL sessions (nobody else is
    connected but this test), or the SQLite write-ahead logs the process holds open, one per
    connection. (Not the database file's descriptors: SQLite keeps those of closed connections
    for reuse while another connection of the process holds a lock on the file.)"""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            return cursor.fetchone()[0]
    database = os.path.realpath(connection.settings_dict["NAME"]) + "-wal"
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == database)


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


async def read_until_end(lines) -> tuple[dict, list[str]]:
    """The `end` event's data, and the comment lines (keepalives) read on the way."""
    seen = []
    async with asyncio.timeout(20):
        async for line in lines:
            seen.append(line)
            if line.startswith("data:") and "event: end" in seen:
                return json.loads(line[5:]), [line for line in seen if line.startswith(":")]
    raise AssertionError(f"the stream closed without an end: {seen}")


async def hold_streams(urls: list[str], key: str, *, while_open, ending: list[int]):
    """Open a stream on each url, wait for every first event, run `while_open()` in a thread,
    then read the streams `ending` (indexes) to their end; returns what `while_open` did and, for
    each of those streams, its `end` data and the keepalives it had."""
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    limits = httpx.Limits(max_connections=len(urls) + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client, contextlib.AsyncExitStack() as stack:
        async def first_event(url):
            response = await stack.enter_async_context(client.stream("GET", url, headers=headers))
            lines = response.aiter_lines()
            async for line in lines:
                if line.startswith("event: status"):
                    return lines

        streams = await asyncio.gather(*(first_event(url) for url in urls))
        result = await asyncio.to_thread(while_open)
        return result, await asyncio.gather(*(read_until_end(streams[index]) for index in ending))


def test_two_hundred_idle_streams_hold_a_few_threads_and_database_connections_and_still_wake(stack, start_run,
                                                                                           principal):
    runs = [start_run("test_sleep", {"seconds": 60}) for _ in range(IDLE_STREAMS)]  # queued: no worker here
    ending = [0, IDLE_STREAMS // 2, IDLE_STREAMS - 1]

    def measure():
        time.sleep(3)  # a few polls of the followed runs, a few keepalives
        figures = {"connections": database_connections_of(server.pid), "threads": threads_of(server.pid)}
        for index in ending:
            cancelled = httpx.post(server.url(f"/api/v1/runs/{runs[index].pk}/cancel/"),
                                   headers={"Authorization": f"Bearer {stack.key}"})
            assert cancelled.status_code == 200, cancelled.text
        return figures

    with stack.server(RUN_EVENTS_KEEPALIVE_SECONDS="1") as server:
        before = {"connections": database_connections_of(server.pid), "threads": threads_of(server.pid)}
        figures, ends = asyncio.run(hold_streams(
            [server.url(f"/api/v1/runs/{run.pk}/events/") for run in runs], stack.key, while_open=measure,
            ending=ending))

    print(f"{IDLE_STREAMS} idle streams: {figures['connections']} database connections, {figures['threads']} "
          f"threads in the web process (before: {before['connections']}, {before['threads']})")
    assert figures["connections"] <= 8
    assert figures["threads"] < 40  # no thread per stream: an idle one is a coroutine
    # The cancelled runs' streams, among the 200, woke and ended; idle, they had kept alive.
    assert [end["status"] for end, _ in ends] == ["cancelled"] * len(ending)
    assert [str(run.pk) for run in (runs[index] for index in ending)] == [end["id"] for end, _ in ends]
    assert all(": keepalive" in keepalives for _, keepalives in ends)
