"""One follower per web process wakes the open event streams (runs/events.py) whose runs changed.

An idle stream is a coroutine waiting on its `Watcher`: no thread, no database connection. The
follower keeps, for all of them at once:

- a poll: every RUN_EVENTS_POLL_SECONDS one database call asks which of the followed runs
  changed (`runs_changed`: a newer `updated_at`, or a settled step after what the stream sent).
  It is the whole mechanism without Redis, and a safety net with it;
- with Redis, a channel of the process on the channel layer, in the groups of the followed runs:
  the worker's "run changed" notices (runs/live.py) wake their streams at once, and the model's
  deltas (runs/deltas.py) come the same way;
- without Redis, the process's datagram socket for deltas (runs/deltas.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import defaultdict, deque
from datetime import datetime

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import close_old_connections

from . import live
from .deltas import RUN_DELTA, DeltaListener, delta_group
from .selectors import runs_changed

logger = logging.getLogger(__name__)

MAX_PENDING_DELTAS = 1000  # per stream; a client that lags this far loses the oldest text


class Watcher:
    """One open stream's view of its run: what it has sent (`after`, `updated_at`), whether the
    run `changed` since the stream last read it, the deltas not yet sent, and a signal set when
    there is either."""

    def __init__(self, run_id: str, tenant_id: int):
        self.run_id, self.tenant_id = run_id, tenant_id
        self.after = 0
        self.updated_at: datetime | None = None
        self.deltas: deque[dict] = deque(maxlen=MAX_PENDING_DELTAS)
        self.changed = True
        self.signal = asyncio.Event()

    def wake(self) -> None:
        self.changed = True
        self.signal.set()

    def push_delta(self, message: dict) -> None:
        self.deltas.append(message)
        self.signal.set()

    def take_deltas(self) -> list[dict]:
        deltas = list(self.deltas)
        self.deltas.clear()
        return deltas

    async def wait(self, timeout: float) -> bool:
        """True when woken, False after `timeout` seconds of quiet."""
        try:
            await asyncio.wait_for(self.signal.wait(), timeout)
        except TimeoutError:
            return False
        self.signal.clear()
        return True


class RunFollower:
    def __init__(self):
        self.watchers: dict[str, set[Watcher]] = defaultdict(set)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.listener: DeltaListener | None = None

    async def follow(self, run_id, tenant_id: int) -> Watcher:
        await self._started()
        watcher = Watcher(str(run_id), tenant_id)
        first = not self.watchers[watcher.run_id]
        self.watchers[watcher.run_id].add(watcher)
        if first and self.channel:
            layer = get_channel_layer()
            await layer.group_add(live.run_group(watcher.run_id), self.channel)
            await layer.group_add(delta_group(watcher.run_id), self.channel)
        return watcher

    def unfollow(self, watcher: Watcher) -> None:
        """Synchronous: a stream calls it while being closed, when it may no longer await."""
        followers = self.watchers.get(watcher.run_id)
        if followers is None:
            return
        followers.discard(watcher)
        if not followers:
            del self.watchers[watcher.run_id]
            if self.channel:
                self.loop.create_task(self._leave(watcher.run_id))

    async def _leave(self, run_id: str) -> None:
        if run_id in self.watchers:  # followed again meanwhile
            return
        layer = get_channel_layer()
        await layer.group_discard(live.run_group(run_id), self.channel)
        await layer.group_discard(delta_group(run_id), self.channel)

    async def _started(self) -> None:
        """Start the poll and the listener in this event loop (again if the loop is a new one)."""
        loop = asyncio.get_running_loop()
        if self.loop is loop:
            return
        self._stop()
        self.loop = loop
        # In a context of their own, not the request's that happens to start them: they outlive it.
        self.tasks = [loop.create_task(self._poll(), context=contextvars.Context())]
        layer = get_channel_layer()
        if layer is not None and not isinstance(layer, InMemoryChannelLayer):
            self.channel = await layer.new_channel("run-events.")
            self.tasks.append(loop.create_task(self._listen(layer), context=contextvars.Context()))
        else:
            self.listener = DeltaListener(self._deliver)
            self.listener.open(loop)

    def _stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.listener is not None and self.loop is not None and not self.loop.is_closed():
            self.listener.close(self.loop)
        self.watchers.clear()
        self.channel, self.listener, self.tasks = None, None, []

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(settings.RUN_EVENTS_POLL_SECONDS)
            if not self.watchers:
                continue
            try:
                changed = await changed_runs(self._seen())
            except Exception:  # the database is away for a moment: the streams wait, the next poll retries
                logger.warning("could not poll the followed runs", exc_info=True)
                continue
            for run_id in changed:
                for watcher in self.watchers.get(run_id, ()):
                    watcher.wake()

    def _seen(self) -> dict[str, tuple[int, int, datetime | None]]:
        """{run: (tenant, the least seq all its streams sent, their oldest updated_at)}."""
        seen = {}
        for run_id, watchers in self.watchers.items():
            times = [w.updated_at for w in watchers]
            seen[run_id] = (next(iter(watchers)).tenant_id, min(w.after for w in watchers),
                            None if None in times else min(times))
        return seen

    async def _listen(self, layer) -> None:
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the poll carries on, try again shortly
                logger.warning("run events lost the channel layer", exc_info=True)
                await asyncio.sleep(1)
                continue
            self._deliver(message)

    def _deliver(self, message: dict) -> None:
        watchers = self.watchers.get(str(message.get("run")), ())
        for watcher in watchers:
            if message.get("type") == RUN_DELTA:
                watcher.push_delta(message)
            else:
                watcher.wake()


def _changed(seen) -> set[str]:
    try:
        return runs_changed(seen=seen)
    finally:
        close_old_connections()


# In the event loop's thread pool, not thread-sensitive: see events.read_events.
changed_runs = sync_to_async(_changed, thread_sensitive=False)


follower = RunFollower()
