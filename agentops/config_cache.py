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
so nobody takes it. The generation and the entry are fetched together (one MGET with Redis).
A lost generation (evicted, a restarted Redis) starts again from a random number, which no old
entry carries.

Values are pickled by the cache, so each caller gets its own copy: nothing a caller does to a
model instance it was given changes what the next caller gets. Keep cached values small (rows,
not querysets; plain values where a caller needs no more): locmem pickles and unpickles them on
every hit.

Limit: a transaction that changes configuration and then reads it through the cache before it
rolls back leaves its uncommitted value cached until expiry. Services write; they do not read
configuration back through the cache.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Callable, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

T = TypeVar("T")

ALIAS = "config"
GENERATION = "generation"


def cached(key: tuple, load: Callable[[], T]) -> T:
    """The value cached under `key` (a tuple of str, int, UUID... with a stable repr), or `load()`
    (then cached). `load` must return something picklable."""
    seconds = settings.CONFIG_CACHE_SECONDS
    if seconds <= 0:
        return load()
    cache = caches[ALIAS]
    name = _name(key)
    found = cache.get_many((GENERATION, name))
    generation = found.get(GENERATION)
    if generation is None:
        generation = _start_generation(cache)
    else:
        entry = found.get(name)
        if entry is not None and entry[0] == generation:
            return entry[1]
    # The generation is read before the rows: if a commit replaces them meanwhile, its
    # invalidation makes this entry's generation an old one.
    value = load()
    cache.set(name, (generation, value), timeout=seconds)
    return value


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
        cache.incr(GENERATION)
    except ValueError:  # no generation yet, or it was lost: a new one, which no entry carries
        _start_generation(cache)


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
