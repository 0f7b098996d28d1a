"""httpx clients whose every connection passes `agentops.outbound.address_check`.

httpx hands connecting to httpcore, and httpcore to a *network backend* whose `connect_tcp(host,
port)` opens the socket. The backends here check the host (resolving it once) and open the socket
to a checked address; httpcore still gives TLS the host name (`server_hostname`, so SNI and the
certificate check are for the name) and the request keeps it in its Host header. Every connection
goes through the backend, so a redirect followed by the client is checked like the first request.

The clients ignore proxy variables from the environment (`trust_env=False`, and an explicit
transport has no proxy): a proxy would connect on our behalf, unchecked.

The backends are written against httpcore's interface, which httpcore2 (under the `mcp` package's
httpx2, see `agentops.outbound.mcp_http`) shares, so both stacks use them.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpcore
import httpx

from agentops.outbound import IPAddress, address_check


class GuardedBackend:
    """A synchronous httpcore network backend that connects only to checked addresses.

    `inner` opens the sockets (an httpcore `SyncBackend`); `connect_errors` are the exception
    classes of its stack that a failed connect raises (the first is raised for a failed resolution).
    """

    def __init__(self, inner: Any, connect_errors: tuple[type[Exception], ...]) -> None:
        self.inner = inner
        self.connect_errors = connect_errors

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> Any:
        addresses = _checked(host, port, self.connect_errors)
        for address in addresses:  # in the resolver's order, as socket.create_connection does
            try:
                return self.inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except self.connect_errors:
                if address is addresses[-1]:
                    raise

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class AsyncGuardedBackend:
    """`GuardedBackend` for async pools (`inner`: an httpcore or httpcore2 `AnyIOBackend`).

    The name is resolved in a worker thread: `getaddrinfo` blocks.
    """

    def __init__(self, inner: Any, connect_errors: tuple[type[Exception], ...]) -> None:
        self.inner = inner
        self.connect_errors = connect_errors

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Any = None) -> Any:
        addresses = await anyio.to_thread.run_sync(_checked, host, port, self.connect_errors)
        for address in addresses:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except self.connect_errors:
                if address is addresses[-1]:
                    raise

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _checked(host: str, port: int, connect_errors: tuple[type[Exception], ...]) -> list[IPAddress]:
    """`address_check`, with a failed resolution raised as the stack's connect error (retryable,
    like any network failure); a refusal passes through as `OutboundRefused`."""
    try:
        return address_check(host, port)
    except OSError as exc:
        raise connect_errors[0](f"cannot resolve {host}: {exc}") from exc


_CONNECT_ERRORS = (httpcore.ConnectError, httpcore.ConnectTimeout)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool with the guarded backend.

    HTTPTransport builds its pool in `__init__` with no way to name a network backend, so the pool
    is built here instead: `_pool` is the one attribute the transport's methods use.
    """

    def __init__(self) -> None:  # not super().__init__(): it would build a pool only to discard it
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=GuardedBackend(httpcore.SyncBackend(), _CONNECT_ERRORS),
        )


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """The async counterpart of `GuardedTransport`."""

    def __init__(self) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=AsyncGuardedBackend(httpcore.AnyIOBackend(), _CONNECT_ERRORS),
        )


def http_client(*, guarded: bool, timeout: float) -> httpx.Client:
    """A client for one tool call; `guarded` for a tenant's tool. Redirects are not followed."""
    if not guarded:
        return httpx.Client(timeout=timeout, follow_redirects=False)
    return httpx.Client(timeout=timeout, follow_redirects=False, transport=GuardedTransport(), trust_env=False)


def async_http_client(*, timeout: float) -> httpx.AsyncClient:
    """A guarded async client (webhook deliveries). Redirects are not followed."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=AsyncGuardedTransport(),
                             trust_env=False)
