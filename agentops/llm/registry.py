"""Providers by name, configured from settings."""

from __future__ import annotations

from functools import lru_cache

from typing import TYPE_CHECKING

from django.conf import settings

from agentops.outbound.clients import http_client
from agentops.secrets.resolver import SecretError, SecretResolver

from .base import Provider, ProviderError
from .demo_provider import DemoProvider
from .scripted_provider import ScriptedProvider

if TYPE_CHECKING:
    from .openai_provider import OpenAIProvider

NAMES = ("default", "openai", "demo", "scripted")


def get_provider(name: str, config: dict | None = None, *, tenant_id: int | None = None) -> Provider:
    """The provider called `name`, for an agent of `tenant_id`.

    - "openai": `settings.OPENAI_API_KEY` and `OPENAI_BASE_URL`, the platform's; `config` (an
      agent version's, which its tenant writes) may set `timeout`, and `base_url` for a server of
      the tenant's choosing. The platform's key never goes there: such a server gets the tenant's
      secret named by `api_key_secret` (or no key), and is reached only where agentops.outbound
      lets a tenant's requests go. A secret that cannot be read is a non-retryable ProviderError;
    - "demo": the offline demo model;
    - "scripted": plays `config["responses"]`;
    - "default": "openai" when a key or a base URL is configured, else "demo".

    Raises ValueError for any other name.
    """
    config = config or {}
    name = provider_name(name)
    if name == "openai":
        timeout = float(config.get("timeout", 60))
        if config.get("base_url"):
            return _openai(_tenant_key(config, tenant_id), config["base_url"], timeout, guarded=True)
        # Read on every call, not at import, so settings overridden in tests take effect.
        return _openai(settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL or None, timeout, guarded=False)
    if name == "demo":
        return DemoProvider()
    if name == "scripted":
        return ScriptedProvider(config.get("responses") or [])
    raise ValueError(f"Unknown model provider {name!r}; known providers: {', '.join(NAMES)}.")


def provider_name(name: str) -> str:
    """The provider an agent version's `provider` stands for: "default" resolved."""
    if name == "default":
        return "openai" if settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL else "demo"
    return name


def embeddings_provider(timeout: float = 30) -> "OpenAIProvider":
    """The platform's embeddings server (AGENTOPS_EMBEDDINGS_BASE_URL / _API_KEY)."""
    return _openai(settings.AGENTOPS_EMBEDDINGS_API_KEY, settings.AGENTOPS_EMBEDDINGS_BASE_URL or None, timeout,
                   guarded=False)


def _tenant_key(config: dict, tenant_id: int | None) -> str:
    name = config.get("api_key_secret")
    if not name:
        return ""
    if tenant_id is None:
        raise ProviderError("api_key_secret names a tenant's secret: the provider needs the tenant.", retryable=False)
    try:
        return SecretResolver.for_tenant(tenant_id).get(name)
    except SecretError as exc:
        raise ProviderError(f"The model's API key: {exc}", retryable=False) from None


@lru_cache(maxsize=16)
def _openai(api_key: str, base_url: str | None, timeout: float, *, guarded: bool) -> "OpenAIProvider":
    # One client, and so one connection pool, per configuration: building a client per call
    # would open a new connection for every model call. The client is thread-safe.
    # Imported here: the openai package takes most of a second to import, which web processes
    # and commands need not pay (workers import it before forking, see runs.apps).
    from .openai_provider import OpenAIProvider

    client = http_client(guarded=True, timeout=timeout) if guarded else None
    return OpenAIProvider(api_key=api_key, base_url=base_url, timeout=timeout, http_client=client)
