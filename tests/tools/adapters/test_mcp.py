import sys

import pytest

from tests.support.tool_servers import MCP_SERVER_SCRIPT, ScriptedHTTPServer, free_port
from tests.tools.adapters.conftest import TOKEN
from tools.adapters.base import AdapterError, Delivery, Invocation
from tools.adapters.mcp import McpAdapter

# A stdio server is a global tool's (a platform admin's): `secrets` is the platform's resolver.
STDIO = {"transport": "stdio", "command": sys.executable, "args": [str(MCP_SERVER_SCRIPT)]}


def invoke(adapter, arguments=None, *, timeout=15.0):
    return adapter.call(Invocation(arguments or {}, "run-5:8", timeout))


def test_call_over_stdio_returns_structured_content(secrets):
    # Given a tool bound to the server's get_item
    adapter = McpAdapter({**STDIO, "tool": "get_item"}, secrets)

    # When it is called
    result = invoke(adapter, {"sku": "A-1", "quantity": 2})

    # Then the structured result is returned
    assert result == {"sku": "A-1", "quantity": 2, "in_stock": True}


def test_tool_error_is_surfaced_and_not_retryable(secrets):
    # Given a tool that reports an error
    adapter = McpAdapter({**STDIO, "tool": "reserve"}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "A-1"})

    # Then the tool's message comes back in a permanent error, an answer that nothing was done
    assert caught.value.retryable is False and caught.value.delivery == Delivery.SENT
    assert "Item A-1 is discontinued." in caught.value.message


def test_call_over_streamable_http_sends_secret_headers(mcp_http_server, secrets):
    # Given a tool over HTTP authenticating with a secret; whoami echoes the header
    adapter = McpAdapter(
        {
            "transport": "http",
            "url": mcp_http_server.url,
            "headers": {"Authorization": "Bearer {{ secret:CRM_TOKEN }}"},
            "tool": "whoami",
        },
        secrets,
    )

    # When it is called
    result = invoke(adapter)

    # Then the server saw exactly the token (redaction matched it) and the value is not shown
    assert result == {"result": "Bearer [secret:CRM_TOKEN]"}
    assert TOKEN not in repr(result)


def test_unreachable_http_server_is_retryable(secrets, allow_outbound):
    # Given nothing listening at the URL
    url = f"http://127.0.0.1:{free_port()}/mcp"
    allow_outbound(url)
    adapter = McpAdapter({"transport": "http", "url": url, "tool": "whoami"}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, timeout=5.0)

    # Then the failure is retryable, and nothing was sent
    assert caught.value.retryable is True and caught.value.delivery == Delivery.NOT_SENT


def test_a_call_that_outlasts_its_timeout_may_have_taken_effect(secrets):
    # Given a tool that answers after the call's timeout, once the session is up
    adapter = McpAdapter({**STDIO, "tool": "pause"}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"seconds": 30}, timeout=8.0)

    # Then the failure is retryable, but the call was made and may have done its work
    assert caught.value.retryable is True and caught.value.delivery == Delivery.MAYBE_SENT


def test_missing_command_is_not_retryable(secrets):
    # Given a stdio server whose command does not exist
    adapter = McpAdapter(
        {"transport": "stdio", "command": "/nonexistent/mcp-server", "tool": "get_item"}, secrets
    )

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then retrying cannot help, and nothing was sent
    assert caught.value.retryable is False and caught.value.delivery == Delivery.NOT_SENT
    assert "cannot be started" in caught.value.message


@pytest.mark.parametrize("config, message", [
    ({"transport": "sse", "url": "https://mcp.example.com", "tool": "t"}, "'transport' must be"),
    ({"transport": "stdio", "tool": "t"}, "'command' is required"),
    ({"transport": "stdio", "command": "srv", "args": "--x", "tool": "t"}, "'args' must be a list"),
    ({"transport": "http", "url": "ftp://mcp.example.com", "tool": "t"}, "http:// or https://"),
    ({"transport": "http", "url": "https://mcp.example.com"}, "'tool' is required"),
])
def test_an_invalid_configuration_is_refused(config, message):
    with pytest.raises(ValueError, match=message):
        McpAdapter.validate_config(config)


def test_a_guarded_call_over_http_to_loopback_is_refused_and_nothing_arrives(tenant_secrets):
    # Given an HTTP server on 127.0.0.1 that nothing allows, named as an MCP server
    with ScriptedHTTPServer() as server:
        adapter = McpAdapter({"transport": "http", "url": f"{server.url}/mcp", "tool": "whoami"}, tenant_secrets)

        # When the tool is called
        with pytest.raises(AdapterError) as caught:
            invoke(adapter, timeout=5.0)

    # Then the connection was refused before anything was sent
    assert caught.value.code == "outbound_address_refused" and caught.value.retryable is False
    assert server.requests == []


def test_a_global_tool_reaches_an_mcp_server_on_loopback(mcp_http_process, secrets):
    adapter = McpAdapter({"transport": "http", "url": mcp_http_process.url, "tool": "whoami"}, secrets)

    assert invoke(adapter) == {"result": "anonymous"}
