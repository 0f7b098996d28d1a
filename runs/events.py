"""The run event stream, `GET /api/v1/runs/{id}/events/` (docs/streaming.md): a run's status,
settled steps, approvals, model text and end as server-sent events.

`events_read` turns what changed since the last read into events: one short visit to the
database (the run, its new steps a hundred at a time, the approvals they opened). Under ASGI,
`event_stream` waits between reads on the process's follower (runs/follower.py) without a
thread or a connection, and relays the model's deltas as they come. Under WSGI, where waiting
would hold a worker thread, `event_snapshot` answers with what is there and closes; the client
reconnects after `retry` with its Last-Event-ID, which makes it a poll.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import takewhile

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from rest_framework.fields import DateTimeField

from agentops.tenancy.principal import Principal

from .follower import follower
from .models import FINISHED_STATUSES, Run, Step, StepKind, StepStatus
from .selectors import run_get_for_user, step_list
from .serializers import RunSerializer, steps_data
from .waits import wait_kind

STEP_CHUNK = 100  # steps read per query


def sse(event: str, data, *, id: int | None = None) -> bytes:
    """One event; `data` as one line of JSON (JSON never needs a raw newline)."""
    head = f"event: {event}\n" + (f"id: {id}\n" if id is not None else "")
    return f"{head}data: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n".encode()


@dataclass
class StreamState:
    """What one stream has sent: steps up to `after`, the run's `status` and `waiting_on`."""

    principal: Principal
    run_id: str
    after: int = 0
    status: tuple[str, str] | None = None
    updated_at: datetime | None = None
    open_approvals: set[int] = field(default_factory=set)  # approval steps sent while waiting
    ended: bool = False


def events_read(state: StreamState) -> list[bytes]:
    """The events since the last read, `state` moved past them. A run gone, or no longer
    visible to the principal, ends the stream without an `end`."""
    run = run_get_for_user(principal=state.principal, run_id=state.run_id)
    if run is None:
        state.ended = True
        return []
    first, ended = state.status is None, run.status in FINISHED_STATUSES
    events = [status_event(run)] if first else []
    events += _decided_approvals(run, state)
    # A run that has ended changes no more: its steps go as they are, settled or not.
    events += _new_steps(run, state, settled_only=not ended)
    if not first and state.status != (run.status, run.waiting_reason):
        events.append(status_event(run))
    state.status, state.updated_at = (run.status, run.waiting_reason), run.updated_at
    if ended:
        events.append(sse("end", RunSerializer(run).data, id=state.after))
        state.ended = True
    return events


def status_event(run: Run) -> bytes:
    return sse("status", {"run": str(run.pk), "status": run.status, "waiting_on": run.waiting_reason or None,
                          "updated_at": DateTimeField().to_representation(run.updated_at)})


def _new_steps(run: Run, state: StreamState, *, settled_only: bool) -> list[bytes]:
    """The steps after `state.after` in order, up to the first one still started (a later one is
    held back until it settles: every seq is sent once, in order)."""
    events = []
    while True:
        chunk = step_list(run=run, after_seq=state.after, limit=STEP_CHUNK)
        ready = list(takewhile(lambda step: not settled_only or step.status != StepStatus.STARTED, chunk))
        approvals = _approvals(run, [step.seq for step in ready if step.kind == StepKind.APPROVAL])
        for step, data in zip(ready, steps_data(ready)):
            events.append(sse("step", data, id=step.seq))
            if step.seq in approvals:
                events.append(sse("approval", approvals[step.seq]))
                if step.status == StepStatus.WAITING:
                    state.open_approvals.add(step.seq)
            state.after = step.seq
        if len(ready) < STEP_CHUNK:
            return events


def _decided_approvals(run: Run, state: StreamState) -> list[bytes]:
    """The approvals sent while their step waited whose step has its outcome now."""
    if not state.open_approvals:
        return []
    resolved = list(Step.objects.filter(run=run, seq__in=state.open_approvals).exclude(
        status=StepStatus.WAITING).values_list("seq", flat=True))
    state.open_approvals.difference_update(resolved)
    approvals = _approvals(run, sorted(resolved))
    return [sse("approval", approvals[seq]) for seq in sorted(approvals)]


def _approvals(run: Run, seqs: list[int]) -> dict[int, dict]:
    kind = wait_kind("approval") if seqs else None
    return kind.api_objects(run=run, seqs=seqs) if kind is not None else {}


def _read_and_release(state: StreamState) -> list[bytes]:
    try:
        return events_read(state)
    finally:
        close_old_connections()  # the pool thread's connection, if it is past its age


# Not thread-sensitive: that would start a thread for the request again (its context's, see
# agentops/asgi_handler.py) and keep it until the stream ends. A read has no state to keep on a
# thread (no transaction spans two reads), so any thread of the event loop's pool does; Django's
# connections are per thread there, so each pool thread keeps one, whichever stream it serves:
# a handful for any number of streams.
read_events = sync_to_async(_read_and_release, thread_sensitive=False)


async def event_stream(state: StreamState) -> AsyncIterator[bytes]:
    """The stream under ASGI: events as the run changes, deltas as they come, keepalives.

    It reads the database only when the follower says the run changed (and once at the start);
    in between it is a coroutine waiting on its watcher."""
    yield f"retry: {settings.RUN_EVENTS_RETRY_MS}\n\n".encode()
    watcher = await follower.follow(state.run_id, state.principal.tenant.pk)
    try:
        while True:
            watcher.changed = False
            for event in await read_events(state):
                yield event
            if state.ended:
                return
            watcher.after, watcher.updated_at = state.after, state.updated_at
            while not watcher.changed:
                woken = await watcher.wait(settings.RUN_EVENTS_KEEPALIVE_SECONDS)
                for message in watcher.take_deltas():
                    if message["seq"] > state.after:  # else its step was sent already
                        yield sse("delta", {"seq": message["seq"], "delta": message["delta"]})
                if not woken:
                    yield b": keepalive\n\n"
    finally:
        follower.unfollow(watcher)


def event_snapshot(state: StreamState) -> Iterator[bytes]:
    """The stream under WSGI: what there is now, then the end of the response."""
    yield f"retry: {settings.RUN_EVENTS_RETRY_MS}\n\n".encode()
    yield from events_read(state)
