"""A tool's secret references resolve with its owner's powers: a tenant's tool from that tenant's
own secrets only, a global tool from the platform's (AGENTOPS_SECRET_<NAME>, the secrets file);
and a tenant's tool runs no command on the platform's machines."""

import itertools

import pytest

from agentops.secrets.services import secret_set
from tests.support.tool_servers import Reply
from tools.errors import ToolInvalid
from tools.gateway import ToolFailed, ToolSession, tool_execute

from .conftest import ACTOR

@pytest.fixture
def call_with(operator, make_tool, make_run, http_server):
    """call_with(name, scope="tenant"|"global") → the header the server saw from a new tool of
    the tenant (or a global one) sending secret `name`."""
    numbers = itertools.count(1)

    def go(name: str, *, scope: str = "tenant"):
        http_server.reply(Reply(200, {"ok": True}))
        tool = f"crm.ping_{next(numbers)}"
        make_tool(tool, config={"url": f"{http_server.url}/x", "headers": {"X-Token": "{{ secret:%s }}" % name}},
                  **({"tenant": None} if scope == "global" else {}))
        run = make_run(operator, tools=[tool])
        tool_execute(prepared=ToolSession(run).prepare(tool, {}), idempotency_key="k:1", deadline=None)
        return http_server.requests[-1].headers["x-token"]

    return go


def test_a_tenant_tool_resolves_its_own_tenants_secret(call_with, tenant, other_tenant):
    secret_set(tenant=other_tenant, name="CRM_TOKEN", value="globex-token", actor=ACTOR)
    secret_set(tenant=tenant, name="CRM_TOKEN", value="acme-token", actor=ACTOR)

    assert call_with("CRM_TOKEN") == "acme-token"


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "AGENTOPS_SECRET_KEYS", "PLATFORM_TOKEN", "CRM_TOKEN"])
def test_a_tenant_tool_reaches_no_environment_value_nor_another_tenants_secret(
        name, call_with, other_tenant, http_server, monkeypatch):
    # Given the value in the environment (bare and with the platform prefix) and in another tenant
    monkeypatch.setenv(name, "from-the-environment")
    monkeypatch.setenv(f"AGENTOPS_SECRET_{name}", "from-the-platform")
    secret_set(tenant=other_tenant, name=name, value="from-another-tenant", actor=ACTOR)

    # When/Then the call fails naming the secret, and nothing was sent
    with pytest.raises(ToolFailed, match=f"'{name}' is not defined in this tenant's secrets") as failed:
        call_with(name)
    assert http_server.requests == []
    assert "from-" not in failed.value.message


def test_a_global_tool_resolves_a_prefixed_variable_but_no_bare_one(call_with, http_server, monkeypatch):
    monkeypatch.setenv("AGENTOPS_SECRET_PLATFORM_TOKEN", "platform-token")
    monkeypatch.setenv("SECRET_KEY", "django-key")
    monkeypatch.setenv("AGENTOPS_SECRET_KEYS", "the-encryption-keys")

    assert call_with("PLATFORM_TOKEN", scope="global") == "platform-token"
    with pytest.raises(ToolFailed, match="'SECRET_KEY' is not defined in the platform's secrets"):
        call_with("SECRET_KEY", scope="global")
    with pytest.raises(ToolFailed, match="'KEYS' is not defined"):  # the keys of tenants' secrets
        call_with("KEYS", scope="global")


def test_a_global_tool_resolves_the_secrets_file_but_not_a_tenants_secret(call_with, tenant, tmp_path, settings):
    path = tmp_path / "secrets.json"
    path.write_text('{"FILE_TOKEN": "file-token"}')
    settings.AGENTOPS_SECRETS_FILE = str(path)
    secret_set(tenant=tenant, name="ACME_ONLY", value="acme-value", actor=ACTOR)

    assert call_with("FILE_TOKEN", scope="global") == "file-token"
    with pytest.raises(ToolFailed, match="'ACME_ONLY' is not defined in the platform's secrets"):
        call_with("ACME_ONLY", scope="global")


def test_a_resolved_value_is_redacted_from_the_result(operator, make_tool, make_run, http_server, tenant):
    secret_set(tenant=tenant, name="CRM_TOKEN", value="acme-token-echoed", actor=ACTOR)
    http_server.reply(Reply(200, {"echo": "acme-token-echoed"}))
    make_tool("crm.ping", config={"url": f"{http_server.url}/x", "headers": {"X-Token": "{{ secret:CRM_TOKEN }}"}})
    run = make_run(operator, tools=["crm.ping"])

    result = tool_execute(prepared=ToolSession(run).prepare("crm.ping", {}), idempotency_key="k:1", deadline=None)

    assert result == {"echo": "[secret:CRM_TOKEN]"}


def test_a_tenant_mcp_tool_may_not_run_a_command_on_the_platforms_machines(make_tool):
    stdio = {"transport": "stdio", "command": "sqlite3", "args": ["db.sqlite3", "SELECT * FROM runs_run"],
             "tool": "query"}

    with pytest.raises(ToolInvalid, match="a tenant's tool connects over"):
        make_tool("db.dump", kind="mcp", config=stdio)
    assert make_tool("db.dump", tenant=None, kind="mcp", config=stdio).tenant is None  # a platform admin's choice
