"""A tiny HTTP proxy in front of the live server that fails on purpose, the way a load balancer
or a flaky network does: it answers a status of its own after forwarding (the server acted, the
client hears a failure), or instead of forwarding, or too late."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from tests.support.tool_servers import RecordedRequest, Reply, ScriptedHTTPServer

PASSED_ON = ("authorization", "content-type", "accept", "idempotency-key", "last-event-id")
UNAVAILABLE = {"error": {"code": "unavailable", "message": "injected by the test proxy", "details": None}}


@dataclass
class Fault:
    status: int = 503
    headers: dict = field(default_factory=dict)
    forward: bool = True  # pass the request on before answering the status
    delay: float = 0.0


class FaultyProxy:
    """`fail(*faults)`: the next requests get these faults, one each (None: that one passes
    through); later ones pass through.
    `answered` lists (method, status the client got); `requests` what the client sent."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.answered: list[tuple[str, int]] = []
        self._faults: deque[Fault | None] = deque()
        self._server = ScriptedHTTPServer(self._handle)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._server.requests

    def fail(self, *faults: Fault | None) -> None:
        self._faults.extend(faults)

    def _handle(self, request: RecordedRequest) -> Reply:
        fault = self._faults.popleft() if self._faults else None
        if fault is None or fault.forward:
            forwarded = self._forward(request)
        if fault is None:
            reply = Reply(forwarded.status_code, forwarded.json() if forwarded.content else None)
        else:
            reply = Reply(fault.status, UNAVAILABLE, headers=fault.headers, delay=fault.delay)
        self.answered.append((request.method, reply.status))
        return reply

    def _forward(self, request: RecordedRequest) -> httpx.Response:
        query = f"?{urlencode(request.query, doseq=True)}" if request.query else ""
        headers = {name: value for name, value in request.headers.items() if name in PASSED_ON}
        return httpx.request(request.method, f"{self.upstream}{request.path}{query}", content=request.body,
                             headers=headers, timeout=30)

    def __enter__(self) -> FaultyProxy:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
