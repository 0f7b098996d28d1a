"""Providers by name, configured from settings."""

from __future__ import annotations

from functools import lru_cache

from typing import TYPE_CHECKING

from django.conf import settings

from .base import Provider
from .demo_provider import DemoProvider
from .scripted_provider import ScriptedProvider

if TYPE_CHECKING:
    from .openai_provider import OpenAIProvider

NAMES = ("default", "openai", "demo", "scripted")


def get_provider(name: str, config: dict | None = None) -> Provider:
    """The provider called `name`.

    - "openai": `settings.OPENAI_API_KEY` and `OPENAI_BASE_URL`; `config` may set `base_url`
      and `timeout` (the key comes only from settings, never from stored config);
    - "demo": the offline demo model;
    - "scripted": plays `config["responses"]`;
    - "default": "openai" when a key or a base URL is configured, else "demo".

    Raises ValueError for any other name.
    """
    config = config or {}
    if name == "default":
        name = "openai" if settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL else "demo"
    if name == "openai":
        # Read on every call, not at import, so settings overridden in tests take effect.
        base_url = config.get("base_url") or settings.OPENAI_BASE_URL or None
        return _openai(settings.OPENAI_API_KEY, base_url, float(config.get("timeout", 60)))
    if name == "demo":
        return DemoProvider()
    if name == "scripted":
        return ScriptedProvider(config.get("responses") or [])
    raise ValueError(f"Unknown model provider {name!r}; known providers: {', '.join(NAMES)}.")


@lru_cache(maxsize=16)
def _openai(api_key: str, base_url: str | None, timeout: float) -> "OpenAIProvider":
    # One client, and so one connection pool, per configuration: building a client per call
    # would open a new connection for every model call. The client is thread-safe.
    # Imported here: the openai package takes most of a second to import, which web processes
    # and commands need not pay (workers import it before forking, see runs.apps).
    from .openai_provider import OpenAIProvider

    return OpenAIProvider(api_key=api_key, base_url=base_url, timeout=timeout)
