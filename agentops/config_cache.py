"""The configuration every run reads — its agent version, agent and tenant, the tools it is
granted, its user's right to use them, model prices, webhooks — kept in Django's cache framework,
so that a run does not spend most of its time compiling and running the same few queries.

Where: the `config` cache (settings.CACHES). In each process's memory by default; in Redis when
REDIS_URL is set, one cache shared by every process (web, workers, commands).

How long: an entry lives CONFIG_CACHE_SECONDS (default 5; 0 disables the cache).

Invalidation is done by the services that write configuration, not by signals: each calls
`invalidate()` in its transaction, which forgets the whole cache when that transaction commits.
Within the cache's reach — this process with local memory, every process with Redis — a change
is seen by the next read. A process with its own memory sees another's change when its entry
expires, as it sees a write that bypasses the services (a shell, a data migration).

Forgetting is a generation number, not deletion. Every entry is stored with the generation that
was current when its value was *read from the database*, and a reader takes an entry only if its
generation is still current; `clear()` increments the number. So invalidating costs one INCR
whatever the cache holds, reaches every process sharing the cache at once, never deletes keys one
by one (nor flushes a Redis database that the task queue and the channel layer share), and a
value loaded from rows that a concurrent commit has just replaced is stored under the old number,
so nobody takes it. A lost generation (evicted, a restarted Redis) starts again from a random number, which no old
entry carries.

Hits are served from this process's memory: the shared cache pickles its values, and unpickling
model instances on every hit cost a run more than the queries it saves. A value is shared by every
caller in the process, so treat it as read-only; it is kept until its shared entry's expiry, and
only while its generation is current. A run's execution pins the generation (`pinned()`): its
configuration is read once, consistently, and its hits make no round trip to Redis; an
invalidation made in the same process still applies at once.

Limit: a transaction that changes configuration and then reads it through the cache before it
rolls back leaves its uncommitted value cached until expiry. Services write; they do not read
configuration back through the cache.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

T = TypeVar("T")

ALIAS = "config"
GENERATION = "generation"
MAX_REMEMBERED = 10_000

# name -> (generation, expiry as time.time(), value): the hits of this process (see above).
_memory: dict[str, tuple[int, float, object]] = {}
_pinned: ContextVar[int | None] = ContextVar("config_cache_generation", default=None)


def cached(key: tuple, load: Callable[[], T]) -> T:
    """The value cached under `key` (a tuple of str, int, UUID... with a stable repr), or `load()`
    (then cached). `load` must return something picklable; what is returned is shared, read-only."""
    seconds = settings.CONFIG_CACHE_SECONDS
    if seconds <= 0:
        return load()
    name = _name(key)
    generation = _pinned.get()
    if generation is None:
        generation = _current_generation()
    kept = _memory.get(name)
    if kept is not None and kept[0] == generation and kept[1] > time.time():
        return kept[2]
    cache = caches[ALIAS]
    entry = cache.get(name)
    if entry is None or entry[0] != generation:
        # The generation is read before the rows: if a commit replaces them meanwhile, its
        # invalidation makes this entry's generation an old one.
        entry = (generation, time.time() + seconds, load())
        cache.set(name, entry, timeout=seconds)
    _remember(name, entry)
    return entry[2]


@contextmanager
def pinned():
    """Within the block, every `cached()` uses the generation current at its start (one read of
    the shared cache for the whole block): for a run's execution. `clear()` in this process
    moves the pin on, so the block's own writes still apply at once."""
    token = _pinned.set(_current_generation())
    try:
        yield
    finally:
        _pinned.reset(token)


def invalidate() -> None:
    """Forget the cached configuration once the current transaction commits (at once outside
    one): the services that write configuration call this, so a reload never reads the old rows.

    Robust: if the cache cannot be reached then, the commit stands and the failure is logged;
    readers elsewhere may then use what they cached for up to CONFIG_CACHE_SECONDS.
    """
    transaction.on_commit(clear, robust=True)


def clear() -> None:
    """Forget everything now, in every process that shares the cache."""
    cache = caches[ALIAS]
    try:
        generation = cache.incr(GENERATION)
    except ValueError:  # no generation yet, or it was lost: a new one, which no entry carries
        generation = _start_generation(cache)
    if _pinned.get() is not None:
        _pinned.set(generation)


def _current_generation() -> int:
    cache = caches[ALIAS]
    generation = cache.get(GENERATION)
    return _start_generation(cache) if generation is None else generation


def _remember(name: str, entry: tuple) -> None:
    if len(_memory) >= MAX_REMEMBERED:
        _memory.clear()
    _memory[name] = entry


def _start_generation(cache) -> int:
    """The current generation, starting one if there is none (two processes starting one at once
    agree on whichever was added first). It never expires."""
    generation = secrets.randbits(62)
    cache.add(GENERATION, generation, timeout=None)
    current = cache.get(GENERATION)
    return generation if current is None else current


def _name(key: tuple) -> str:
    """A cache key for `key`: readable by its first part, a digest of the whole (keys may be long
    and hold any characters, which some cache backends refuse)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    return f"{key[0]}:{digest}"
