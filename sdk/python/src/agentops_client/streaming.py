"""A run's live event stream (`GET /api/v1/runs/{id}/events/`, server-sent events): the decoder,
the typed events, and the state that resumes a dropped connection where it stopped.

Events: `step` (id: its seq; data: the step), `status` (the run's status changed), `approval`
(an approval request of the run), `delta` (text a model step is producing; no id), `end` (id: the
last seq; data: the ended run). A reconnection sends `Last-Event-ID: <last step seq>` and the
server resumes exactly after it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional

import httpx

from . import errors
from ._base import Call, backoff
from .models import ApprovalRequest, Delta, Run, StatusChange, Step

EVENT_DATA = {"step": Step, "status": StatusChange, "approval": ApprovalRequest, "delta": Delta, "end": Run}


@dataclasses.dataclass
class RunEvent:
    """`type` is step, status, approval, delta or end; `data` the matching model (a plain dict for
    an event type this client does not know yet); `id` the event's id (a step seq) if it has one."""

    type: str
    data: Any
    id: Optional[str] = None


class SSEDecoder:
    """Server-sent events from lines (the WHATWG rules: `field: value`, a blank line dispatches,
    `:` starts a comment such as the server's keepalives)."""

    def __init__(self) -> None:
        self.reset()
        self.retry_ms: Optional[int] = None

    def reset(self) -> None:
        """Forget a half-received event: a new connection starts with a fresh one."""
        self._event, self._data, self._id = "", [], None

    def feed(self, line: str) -> Optional[RunEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Optional[RunEvent]:
        kind, data, event_id = self._event or "message", self._data, self._id
        self.reset()
        if not data:
            return None
        payload = json.loads("\n".join(data))
        model = EVENT_DATA.get(kind)
        return RunEvent(type=kind, data=model.from_dict(payload) if model else payload, id=event_id)


class EventStream:
    """The state of one stream across connections: what to ask for next, the last step seen, and
    how many connections in a row failed. `start` is the request that opens the first connection
    (the POST that creates the run with `"stream": true`, or the GET of a known run's events)."""

    def __init__(self, *, start: Call, run_id: Optional[str], after: Optional[int], max_retries: int) -> None:
        self.start, self.run_id, self.last_seq = start, run_id, after
        self.max_retries, self.failures, self.ended = max_retries, 0, False
        self.decoder = SSEDecoder()

    def call(self) -> Call:
        """The request for the next connection: the first one as given; later ones resume the run's
        events after the last step received (or, while the run's id is still unknown, repeat the
        create, whose idempotency key returns the same run)."""
        if self.run_id is None:
            return self.start
        call = events_call(self.run_id)
        if self.last_seq is not None:
            call = dataclasses.replace(call, headers={**call.headers, "Last-Event-ID": str(self.last_seq)})
        return call

    def opened(self, response: httpx.Response) -> None:
        """A new connection: drop what the last one left half-sent, and learn the run's id from the
        answer's Location (a create with `"stream": true` has one)."""
        self.decoder.reset()
        location = response.headers.get("location", "")
        if self.run_id is None and "/runs/" in location:
            self.run_id = location.rstrip("/").rsplit("/", 1)[-1]

    def feed(self, line: str) -> Optional[RunEvent]:
        """The event this line completes, unless it is a step already delivered."""
        event = self.decoder.feed(line)
        return None if event is None or self._seen(event) else event

    def _seen(self, event: RunEvent) -> bool:
        """Record the event; True for a step already delivered (a repeated create starts over)."""
        self.failures = 0
        self.run_id = self.run_id or run_of(event)
        if event.type == "step":
            if self.last_seq is not None and event.data.seq <= self.last_seq:
                return True
            self.last_seq = event.data.seq
        self.ended = self.ended or event.type == "end"
        return False

    def dropped(self, error: Optional[Exception]) -> float:
        """The connection ended before the run did: the seconds to wait before reconnecting, or the
        error when too many connections in a row failed without an event."""
        self.failures += 1
        if self.failures > self.max_retries:
            raise errors.APIConnectionError(f"The run's event stream kept dropping: {error or 'closed early'}")
        return self.decoder.retry_ms / 1000 if self.decoder.retry_ms is not None else backoff(self.failures)


def run_of(event: RunEvent) -> Optional[str]:
    """The run an event names, if it names one (a step does not)."""
    if isinstance(event.data, (StatusChange, ApprovalRequest)):
        return event.data.run or None
    if isinstance(event.data, Run):
        return event.data.id or None
    return None


def events_call(run_id: str) -> Call:
    return Call("GET", f"/runs/{run_id}/events/", headers={"Accept": "text/event-stream"}, stream=True)
