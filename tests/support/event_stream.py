"""The web server as deployed (daphne serving agentops.asgi) on a real port, and a reader of its
server-sent events, for the run event stream's tests.

    with web_server(redis_url=None) as server:            # the embedded default: no Redis
        with open_stream(server.url(f"/api/v1/runs/{run_id}/events/"), key) as events:
            for event in events: ...                      # Event(name, id, data) until `end`
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.browser import background_process, free_port
from tests.support.workers import test_database_url

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Event:
    name: str
    id: int | None
    data: object  # parsed JSON; None for a comment


@dataclass
class WebServer:
    base: str
    pid: int

    def url(self, path: str) -> str:
        return self.base + path


def server_env(redis_url: str | None, **extra) -> dict:
    """The environment of a process serving or working on the test database: with the Redis
    channel layer and broker, or without Redis (the embedded default)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": test_database_url(), "REDIS_URL": redis_url or "", **extra}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


@contextlib.contextmanager
def web_server(redis_url: str | None, **extra_env):
    port = free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    args = [daphne, "-b", "127.0.0.1", "-p", str(port), "agentops.asgi:application"]
    with background_process(args, port, "daphne", server_env(redis_url, **extra_env)) as process:
        yield WebServer(f"http://127.0.0.1:{port}", process.pid)


def parse_events(lines) -> iter:
    """Events from the lines of a text/event-stream body; comments come as Event(":", None, text)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield Event(":", None, line[1:].strip())
        elif line == "":
            if "data" in fields or "event" in fields:
                yield Event(fields.get("event", "message"), int(fields["id"]) if "id" in fields else None,
                            json.loads(fields.get("data", "null")))
            fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


@contextlib.contextmanager
def open_stream(url: str, key: str, *, method: str = "GET", headers: dict | None = None, json_body=None,
                timeout: float = 30):
    """The events of one request as they arrive; leaving the block drops the connection."""
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream", **(headers or {})}
    with httpx.Client(timeout=timeout) as client, client.stream(method, url, headers=headers,
                                                                 json=json_body) as response:
        response.raise_for_status()
        yield StreamReader(response)


class StreamReader:
    def __init__(self, response: httpx.Response):
        self.response = response
        self.events = parse_events(response.iter_lines())

    def __iter__(self):
        return self.events

    def until(self, name: str) -> list[Event]:
        """The events up to and including the first called `name` (keepalives left out)."""
        seen = []
        for event in self.events:
            if event.name != ":":
                seen.append(event)
            if event.name == name:
                return seen
        raise AssertionError(f"the stream ended without {name!r}: {seen}")
