"""MCP server tools, over stdio (a local process) or streamable HTTP.

Configuration:
    transport   "stdio": command, args (list), env (object, may reference secrets), cwd;
                         global tools only: the command runs on the platform's machines
                "http":  url, headers (object, may reference secrets)
    tool        the server's tool name

Each call opens a session, calls the tool once and closes it: a stdio server lives for one call.
The stdio server sees only a minimal environment (PATH, HOME, ...) plus `env`, never the rest of
ours. Over HTTP the idempotency key is sent as the `Idempotency-Key` header; stdio has no place
for it.

A result with `isError` is a non-retryable AdapterError carrying the tool's text; otherwise the
result is the tool's structured content, else its text content joined, else its content blocks.
Failing to reach the server, a dropped connection and timeouts are retryable; a command that
does not exist and protocol errors are not. Over HTTP a tenant's tool connects only where
`agentops.outbound` allows (`outbound_address_refused`, never retried). A stdio server is a
process on this machine: only global tools, defined by platform admins, may use it (`validate_owner`,
run when a tool is saved and again before every call).

Delivery (tools.adapters.base): every failure before the `tools/call` request is sent (starting
the server, connecting, the session's initialisation) is `not_sent`, and so is failing to connect
for that request itself; a JSON-RPC error answer and an `isError` result are `sent`, as is an HTTP
4xx; a timeout, a closed connection, a 5xx or an unreadable message during the call are
`maybe_sent`.

Written against the `mcp` 2.x client: `mcp.Client` over `StdioServerParameters` (stdio_client)
or `streamable_http_client`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import anyio
import pydantic

from agentops.outbound import OutboundRefused
from agentops.secrets.resolver import SecretResolver
from tools.adapters.base import (
    Adapter, AdapterError, Delivery, Invocation, require_str, require_str_map, url_target,
)
from tools.adapters.http import is_retryable_status, status_delivery

# The `mcp` package takes about a second to import, so it is imported where it is used: processes
# that never call an MCP tool (the web, most management commands) do not pay for it.

T = TypeVar("T")


class McpAdapter(Adapter):
    kind = "mcp"

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        transport = config.get("transport")
        if transport == "stdio":
            require_str(config, "command", kind="mcp")
            args = config.get("args") or []
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                raise ValueError("mcp tool: 'args' must be a list of strings.")
            require_str_map(config, "env", kind="mcp")
            if config.get("cwd") is not None and not isinstance(config["cwd"], str):
                raise ValueError("mcp tool: 'cwd' must be a string.")
        elif transport == "http":
            url = require_str(config, "url", kind="mcp")
            if not url.lower().startswith(("http://", "https://", "{{")):
                raise ValueError("mcp tool: 'url' must be an http:// or https:// URL.")
            require_str_map(config, "headers", kind="mcp")
        else:
            raise ValueError("mcp tool: 'transport' must be \"stdio\" or \"http\".")
        require_str(config, "tool", kind="mcp")

    @classmethod
    def outbound_target(cls, config: dict) -> tuple[str, int] | None:
        return url_target(config.get("url")) if config.get("transport") == "http" else None

    @classmethod
    def validate_owner(cls, config: dict, *, tenant_tool: bool) -> None:
        # A command runs on the platform's machines, beside its database files and settings.
        if tenant_tool and config.get("transport") == "stdio":
            raise ValueError("mcp tool: a tenant's tool connects over \"http\"; \"stdio\" runs a command on the "
                             "platform's machines and is for global tools only.")

    def call(self, invocation: Invocation) -> Any:
        connection = self.resolve_secrets(_connection_part(self.config))
        tool = self.config["tool"]

        calling = False  # set once the session is up and `tools/call` is being sent

        async def call_tool() -> Any:
            nonlocal calling
            async with _session(connection, invocation.timeout, invocation.idempotency_key, self.guarded) as client:
                calling = True
                return await client.call_tool(tool, invocation.arguments)

        result = _run(call_tool, invocation.timeout, self.secrets, calling=lambda: calling)
        if result.is_error:
            text = _joined_text(result.content) or "The tool reported an error without a message."
            raise self.error(f"MCP tool {tool!r} failed: {text}", retryable=False, delivery=Delivery.SENT)
        if result.structured_content is not None:
            return self.secrets.redact(result.structured_content)
        blocks = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
        if all(block.get("type") == "text" for block in blocks):
            return self.secrets.redact(_joined_text(result.content))
        return self.secrets.redact(blocks)


def _connection_part(config: dict) -> dict:
    keys = ("transport", "command", "args", "env", "cwd", "url", "headers")
    return {key: config[key] for key in keys if key in config}


@asynccontextmanager
async def _session(connection: dict, timeout: float, idempotency_key: str | None, guarded: bool) -> AsyncIterator[Any]:
    # The MCP client and its transport are imported on a tool's first call: they take long to
    # import, and most processes never call an MCP tool.
    from mcp import Client, StdioServerParameters
    from mcp.client.streamable_http import streamable_http_client

    from agentops.outbound.mcp_http import mcp_http_client

    if connection["transport"] == "stdio":
        params = StdioServerParameters(
            command=connection["command"],
            args=connection.get("args") or [],
            env=connection.get("env") or None,
            cwd=connection.get("cwd"),
        )
        async with Client(params, read_timeout_seconds=timeout, cache=None) as client:
            yield client
        return
    headers = dict(connection.get("headers") or {})
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    async with mcp_http_client(guarded=guarded, headers=headers, timeout=timeout) as http_client:
        transport = streamable_http_client(connection["url"], http_client=http_client)
        async with Client(transport, read_timeout_seconds=timeout, cache=None) as client:
            yield client


def _run(fn: Callable[[], Awaitable[T]], timeout: float, secrets: SecretResolver, *,
         calling: Callable[[], bool]) -> T:
    """Run `fn` to completion within `timeout` seconds from synchronous code.

    Failures come out as classified, redacted AdapterErrors; `calling()` tells whether the tool's
    call had begun (before it, nothing can have taken effect).
    """

    async def bounded() -> T:
        with anyio.fail_after(timeout):
            return await fn()

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return anyio.run(bounded)
        # Called from async code (an ASGI view, say): this thread's loop is busy, use another.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(anyio.run, bounded).result()
    except Exception as exc:  # Task groups wrap failures; classify the first real one.
        leaf = _first_leaf(exc)
        error = _classify(leaf, timeout)
        delivery = error.delivery if calling() else Delivery.NOT_SENT
        raise AdapterError(secrets.redact(error.message), retryable=error.retryable, status=error.status,
                           code=error.code, delivery=delivery) from None


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _classify(exc: BaseException, timeout: float) -> AdapterError:
    import httpx2
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, OutboundRefused):
        return AdapterError(exc.message, retryable=False, code=exc.code, delivery=Delivery.NOT_SENT)
    if isinstance(exc, TimeoutError):
        return AdapterError(f"The MCP server did not answer within {timeout:g}s.", retryable=True)
    if isinstance(exc, MCPError):
        # A closed connection is the server going away mid-call; other JSON-RPC errors (unknown
        # tool, invalid params) are answers and will be the same next time.
        closed = exc.code == CONNECTION_CLOSED
        return AdapterError(f"MCP error {exc.code}: {exc.message}", retryable=closed,
                            delivery=Delivery.MAYBE_SENT if closed else Delivery.SENT)
    if isinstance(exc, (FileNotFoundError, PermissionError, NotADirectoryError)):
        return AdapterError(f"The MCP server cannot be started: {exc}", retryable=False, delivery=Delivery.NOT_SENT)
    if isinstance(exc, httpx2.HTTPStatusError):
        status = exc.response.status_code
        return AdapterError(f"The MCP server returned HTTP {status}.", retryable=is_retryable_status(status),
                            status=status, delivery=status_delivery(status))
    if isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout, ConnectionRefusedError)):
        return AdapterError(f"The MCP server cannot be reached: {exc or type(exc).__name__}", retryable=True,
                            delivery=Delivery.NOT_SENT)
    if isinstance(exc, (httpx2.TransportError, OSError)):
        return AdapterError(f"The MCP server cannot be reached: {exc or type(exc).__name__}", retryable=True)
    if isinstance(exc, pydantic.ValidationError):
        return AdapterError(f"The MCP server sent an invalid message: {exc}", retryable=False)
    return AdapterError(f"MCP call failed: {type(exc).__name__}: {exc}", retryable=False)


def _joined_text(content: list) -> str:
    return "\n".join(block.text for block in content if getattr(block, "type", None) == "text")
