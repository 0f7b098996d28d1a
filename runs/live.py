"""Push notices for live pages: "this run changed", "this tenant's inbox changed".

A notice carries no data, only a hint to catch up: the page then asks for the steps after the
last one it shows (`/runs/<id>/steps/?after=<seq>`), the same request its polling makes. So a
lost notice costs at most one polling interval and a reconnect loses nothing.

Notices travel on the channel layer. Only a shared layer (Redis) carries them from a worker
process to the web processes; with the in-memory layer (the embedded default) they reach only
consumers in the same process, which is why polling remains the baseline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import Future

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

RUN_CHANGED = "run.changed"
INBOX_CHANGED = "inbox.changed"


def run_group(run_id) -> str:
    return f"run.{run_id}"


def inbox_group(tenant_id) -> str:
    return f"inbox.{tenant_id}"


def notify_run_changed(run_id, seq: int | None = None) -> None:
    """Tell viewers of run `run_id` that its journal or status changed (`seq`: the step written).

    Safe to call from sync code, in or out of a transaction (inside one it waits for the commit,
    so a viewer never asks before the data is visible). Never raises and never waits for Redis:
    a notice must not slow down or fail the step that caused it.
    """
    publish(run_group(run_id), {"type": RUN_CHANGED, "run": str(run_id), "seq": seq})


def notify_inbox_changed(tenant_id) -> None:
    """Tell the tenant's open inbox pages that an approval request appeared or was decided."""
    publish(inbox_group(tenant_id), {"type": INBOX_CHANGED, "tenant": tenant_id})


def publish(group: str, message: dict) -> None:
    """`message` to the consumers in `group`: now, or when the open transaction commits; never
    raises, never waits (see notify_run_changed)."""
    layer = get_channel_layer()
    if layer is None or _nobody_listens(layer, group):
        return
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _send(layer, group, message))
    else:
        _send(layer, group, message)


def _nobody_listens(layer, group: str) -> bool:
    """True when the layer is this process's memory and no consumer here joined `group`: the
    usual case in a worker process, where the notice would go nowhere. (A shared layer cannot
    tell without a round trip, so it always gets the notice.)"""
    return isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group)


def _send(layer, group: str, message: dict) -> Future | None:
    if isinstance(layer, InMemoryChannelLayer):
        return _send_in_process(layer, group, message)
    return _background.submit(_safe_group_send(layer, group, message))


def _send_in_process(layer, group: str, message: dict) -> None:
    # The memory layer's queues belong to the event loop of the consumers (daphne's): send from
    # that loop. async_to_sync does so when called from a view running under sync_to_async.
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        loop.create_task(_safe_group_send(layer, group, message))
    else:
        async_to_sync(_safe_group_send)(layer, group, message)
    return None


async def _safe_group_send(layer, group: str, message: dict) -> None:
    try:
        await layer.group_send(group, message)
    except Exception:  # Redis down, a full channel: the page's polling catches up anyway
        logger.warning("could not publish %s to %s", message.get("type"), group, exc_info=True)


class _BackgroundLoop:
    """One event loop in a daemon thread per process: sync callers hand notices over and go on,
    and the layer keeps its Redis connection between notices instead of opening one per call.
    Created lazily, and again after a fork (worker processes are forked)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def submit(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, name="live-notices", daemon=True).start()
            return self._loop


_background = _BackgroundLoop()
