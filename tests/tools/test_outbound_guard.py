"""A tenant's tool reaches no loopback, private or metadata address (agentops.outbound); a global one does.

The servers are real, on loopback addresses; what a tool may not reach must receive nothing.
"""

import time

import pytest

from agentops import outbound
from tests.support.tool_servers import Reply, ScriptedHTTPServer
from tests.support.outbound import Resolver
from tools.errors import ToolInvalid
from tools.gateway import ToolFailed, ToolSession, tool_execute
from tools.models import Tool
from tools.services import tool_create

from .conftest import ACTOR

ONE_TRY_EACH = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05}


@pytest.fixture
def inside():
    """A server on 127.0.0.1 that nothing allows: it records whatever reaches it."""
    with ScriptedHTTPServer(lambda request: Reply(200, {"reached": "inside"})) as server:
        yield server


def unchecked_tool(tenant, url: str) -> Tool:
    """A tenant's http tool saved without the save-time check: as one saved before the check, or
    one whose name resolves inward only at call time. The connect-time check must stop it."""
    return Tool.objects.create(tenant=tenant, name="probe.fetch", kind="http", description="Fetch.",
                               config={"url": url}, retry_policy=ONE_TRY_EACH)


@pytest.fixture
def execute(operator, make_run):
    """execute(tool) → the result of one call of `tool` in a run of `operator`; records retries."""

    def go(tool: Tool):
        run = make_run(operator, tools=[tool.name])
        prepared = ToolSession(run).prepare(tool.name, {})
        go.retries = []
        return tool_execute(prepared=prepared, idempotency_key="run:1", deadline=None,
                            on_retry=lambda attempt, error, delay: go.retries.append(attempt))

    return go


def refused(execute, tool) -> ToolFailed:
    with pytest.raises(ToolFailed) as caught:
        execute(tool)
    assert caught.value.code == "outbound_address_refused" and caught.value.retryable is False
    assert execute.retries == []  # a refusal is final: not retried
    return caught.value


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_a_tenant_tool_to_this_machine_is_refused_and_nothing_arrives(tenant, execute, inside, host):
    failure = refused(execute, unchecked_tool(tenant, f"http://{host}:{inside.port}/admin"))

    assert "tenant tools and webhooks may not reach" in failure.message
    assert inside.requests == []


def test_a_tenant_tool_to_ipv6_loopback_is_refused_and_nothing_arrives(tenant, execute):
    with ScriptedHTTPServer(lambda request: Reply(200, {}), host="::1") as server:
        failure = refused(execute, unchecked_tool(tenant, server.url))

    assert "::1, which is loopback" in failure.message
    assert server.requests == []


@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local (cloud metadata)"),
    ("http://10.0.0.1/", "private"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "private"),
    ("http://100.64.0.7:8080/", "carrier-grade NAT"),
])
def test_a_tenant_tool_to_the_network_around_us_is_refused_before_connecting(tenant, execute, url, reason):
    started = time.monotonic()
    failure = refused(execute, unchecked_tool(tenant, url))

    assert f"which is {reason}" in failure.message
    assert time.monotonic() - started < 1  # no connection was tried (10.0.0.1 would time out)


def test_a_name_that_resolves_to_loopback_is_refused_and_nothing_arrives(tenant, execute, inside, monkeypatch):
    monkeypatch.setattr(outbound, "resolve", Resolver(["127.0.0.1"]))

    failure = refused(execute, unchecked_tool(tenant, f"http://crm.example:{inside.port}/"))

    assert "crm.example (127.0.0.1), which is loopback" in failure.message
    assert inside.requests == []


def test_dns_rebinding_cannot_move_the_connection_after_the_check(tenant, execute, settings, monkeypatch):
    # Given a name whose first answer is an address the platform allows (127.0.0.2 stands in for a
    # public one) and whose later answers are 127.0.0.1, where another server waits on the same port
    settings.AGENTOPS_OUTBOUND_ALLOW = ["127.0.0.2"]
    with ScriptedHTTPServer(lambda request: Reply(200, {"reached": "allowed"}), host="127.0.0.2") as allowed, \
            ScriptedHTTPServer(lambda request: Reply(200, {"reached": "inside"}), port=allowed.port) as inside:
        resolver = Resolver(["127.0.0.2"], ["127.0.0.1"])
        monkeypatch.setattr(outbound, "resolve", resolver)

        # When the tool is called
        result = execute(unchecked_tool(tenant, f"http://rebind.example:{allowed.port}/"))

    # Then it connected to the address it checked, resolved once, keeping the name in the Host header
    assert result == {"reached": "allowed"}
    assert resolver.calls == 1
    assert allowed.requests[0].headers["host"] == f"rebind.example:{allowed.port}"
    assert inside.requests == []


def test_an_address_the_platform_allows_is_reached(tenant, execute, inside, allow_outbound):
    allow_outbound(inside.url)

    assert execute(unchecked_tool(tenant, f"{inside.url}/x")) == {"reached": "inside"}
    assert len(inside.requests) == 1


def test_a_redirect_to_this_machine_is_not_followed(tenant, execute, inside, allow_outbound):
    with ScriptedHTTPServer(lambda request: Reply(302, "", headers={"Location": f"{inside.url}/admin"})) as front:
        allow_outbound(front.url)
        with pytest.raises(ToolFailed, match="HTTP 302"):
            execute(unchecked_tool(tenant, front.url))

    assert len(front.requests) == 1 and inside.requests == []


def test_a_global_tool_reaches_a_local_server(execute, inside):
    tool = tool_create(tenant=None, name="probe.fetch", kind="http", actor=ACTOR, description="Fetch.",
                       config={"url": f"{inside.url}/status"})

    assert execute(tool) == {"reached": "inside"}
    assert len(inside.requests) == 1


# Saving: what can be seen without DNS is refused at once


@pytest.mark.parametrize("kind, config", [
    ("http", {"url": "http://localhost:8080/admin"}),
    ("http", {"url": "http://169.254.169.254/latest/meta-data/"}),
    ("graphql", {"endpoint": "http://10.0.0.5/graphql", "document": "{ a }"}),
    ("mcp", {"transport": "http", "url": "http://[::1]:9000/mcp", "tool": "x"}),
    ("grpc", {"target": "127.0.0.1:50051", "method": "a.B/C"}),
    ("grpc", {"target": "unix:/run/internal.sock", "method": "a.B/C"}),
])
def test_a_tenant_tool_naming_an_internal_address_cannot_be_saved(tenant, kind, config):
    with pytest.raises(ToolInvalid) as caught:
        tool_create(tenant=tenant, name="probe.fetch", kind=kind, actor=ACTOR, description="x", config=config)

    assert list(caught.value.errors) == ["config"]
    assert not Tool.objects.filter(name="probe.fetch").exists()


def test_a_global_tool_may_name_an_internal_address(db):
    tool = tool_create(tenant=None, name="probe.fetch", kind="http", actor=ACTOR, description="x",
                       config={"url": "http://10.0.0.5/internal"})

    assert tool.pk is not None


def test_a_tenant_tool_with_a_host_hidden_in_a_secret_is_left_to_the_connect_time_check(tenant):
    tool = tool_create(tenant=tenant, name="probe.fetch", kind="graphql", actor=ACTOR, description="x",
                       config={"endpoint": "{{ secret:CRM_GRAPHQL_URL }}", "document": "{ a }"})

    assert tool.pk is not None


# A tenant's tool runs no command on the platform's machines


def test_a_tenant_mcp_tool_over_stdio_cannot_be_saved(tenant):
    with pytest.raises(ToolInvalid) as caught:
        tool_create(tenant=tenant, name="probe.shell", kind="mcp", actor=ACTOR, description="x",
                    config={"transport": "stdio", "command": "/bin/sh", "args": ["-c", "id"], "tool": "x"})

    assert 'connects over "http"' in caught.value.errors["config"][0]
    assert not Tool.objects.filter(name="probe.shell").exists()


def test_a_tenant_mcp_tool_over_stdio_saved_before_the_check_starts_no_process(tenant, execute, tmp_path):
    marker = tmp_path / "ran"
    tool = Tool.objects.create(
        tenant=tenant, name="probe.shell", kind="mcp", description="x", retry_policy=ONE_TRY_EACH,
        config={"transport": "stdio", "command": "/bin/sh", "args": ["-c", f"touch {marker}"], "tool": "x"},
    )

    with pytest.raises(ToolFailed) as caught:
        execute(tool)

    assert caught.value.retryable is False and '"stdio" runs a command' in caught.value.message
    assert not marker.exists()


def test_a_global_mcp_tool_may_use_stdio(db):
    tool = tool_create(tenant=None, name="probe.local", kind="mcp", actor=ACTOR, description="x",
                       config={"transport": "stdio", "command": "/usr/bin/env", "tool": "x"})

    assert tool.pk is not None
