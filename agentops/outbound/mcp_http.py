"""The guarded async client for MCP over HTTP: the `mcp` package speaks httpx2 (over httpcore2).

A module of its own so that only a process calling an MCP tool imports httpx2; the backend is the
one of `agentops.outbound.clients`, whose interface httpcore2 shares.
"""

from __future__ import annotations

import httpcore2
import httpx2

from agentops.outbound.clients import AsyncGuardedBackend


class AsyncGuardedTransport2(httpx2.AsyncHTTPTransport):
    """httpx2's transport over a pool with the guarded backend (see `clients.GuardedTransport`)."""

    def __init__(self) -> None:  # not super().__init__(): it would build a pool only to discard it
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            network_backend=AsyncGuardedBackend(
                httpcore2.AnyIOBackend(), (httpcore2.ConnectError, httpcore2.ConnectTimeout)
            ),
        )


def mcp_http_client(*, guarded: bool, headers: dict[str, str], timeout: float) -> httpx2.AsyncClient:
    """The client an MCP session talks through; `guarded` for a tenant's tool."""
    if not guarded:
        return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout))
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout), transport=AsyncGuardedTransport2(),
                              trust_env=False)
