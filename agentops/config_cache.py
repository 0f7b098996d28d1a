"""A process-local cache of the configuration every run reads: its agent version, agent and
tenant, the tools it is granted, its user's right to use them, model prices, webhooks.

Without it each run would spend most of its time compiling and running the same few queries.
An entry lives CONFIG_CACHE_SECONDS (default 5): a change made in another process (the admin,
the API, another worker) reaches this one within that time. A change saved in this process
clears the cache at once (`post_save`, `post_delete` and group changes of the models below), so
nothing within one process ever sees its own change late. Updates that bypass signals (a
queryset's `update()`) wait for the expiry. 0 disables the cache.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

from django.conf import settings
from django.db import transaction

T = TypeVar("T")

MAX_ENTRIES = 10_000

_entries: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()


def cached(key: tuple, load: Callable[[], T]) -> T:
    """The value cached under `key`, or `load()` (then cached)."""
    seconds = float(getattr(settings, "CONFIG_CACHE_SECONDS", 5))
    now = time.monotonic()
    entry = _entries.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]
    value = load()
    if seconds > 0:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[key] = (now + seconds, value)
    return value


def invalidate() -> None:
    """Forget the cached configuration once the current transaction commits (at once outside one):
    the services that write configuration call this, so a reload never reads the old rows."""
    transaction.on_commit(clear)


def clear(**kwargs) -> None:
    """Forget everything (a signal receiver: any configuration change clears the whole cache)."""
    with _lock:
        _entries.clear()


def connect_invalidation() -> None:
    """Clear the cache whenever a model it holds (or that decides what it holds) changes."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from agentops.agents.models import Agent, AgentVersion
    from agentops.llm.models import ModelPrice
    from agentops.tenancy.models import Membership, Tenant
    from agentops.webhooks.models import Webhook
    from tools.models import Tool

    user_model = get_user_model()
    for model in (Tenant, Membership, Agent, AgentVersion, Tool, ModelPrice, Webhook, user_model,
                  UserObjectPermission, GroupObjectPermission):
        post_save.connect(clear, sender=model, dispatch_uid=f"config-cache-save-{model._meta.label}")
        post_delete.connect(clear, sender=model, dispatch_uid=f"config-cache-delete-{model._meta.label}")
    m2m_changed.connect(clear, sender=user_model.groups.through, dispatch_uid="config-cache-user-groups")
