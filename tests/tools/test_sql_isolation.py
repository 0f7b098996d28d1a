"""SQL tools reach only databases declared for tools, never the platform's own: a tenant's tool
only a PostgreSQL URL among its own secrets, a global tool only an alias in AGENTOPS_TOOL_DATABASES.
Checked when the tool is saved and again at every call."""

import socket

import pytest
from django.db import connection, connections

from agentops.secrets.services import secret_set
from tools.errors import ToolInvalid
from tools.gateway import ToolFailed, ToolSession, tool_execute
from tools.models import Tool

from .conftest import ACTOR

QUERY = "SELECT count(*) AS n FROM runs_run"
SCHEMA = {"type": "object", "properties": {}}


def platform_dsn() -> str:
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return (f"postgresql://{settings['USER']}{password}@{settings['HOST'] or 'localhost'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")


def execute(user, make_run, tool_name: str, *, tenant=None):
    run = make_run(user, tools=[tool_name], **({"tenant": tenant} if tenant else {}))
    return tool_execute(prepared=ToolSession(run).prepare(tool_name, {}), idempotency_key="k:1", deadline=None)


@pytest.mark.parametrize("database", ["default", "demo", "/tmp/db.sqlite3", "sqlite:///db.sqlite3"])
def test_a_tenant_tool_naming_a_database_is_refused_on_save(make_tool, database):
    with pytest.raises(ToolInvalid) as refused:
        make_tool("orders.peek", kind="sql", config={"database": database, "query": QUERY})

    assert "config" in refused.value.details
    assert not Tool.objects.filter(name="orders.peek").exists()


@pytest.mark.parametrize("database, reason", [
    ("default", "not a database declared for tools"),
    ("elsewhere", "not a database declared for tools"),
])
def test_a_global_tool_names_only_a_declared_database(make_tool, database, reason):
    with pytest.raises(ToolInvalid, match=reason):
        make_tool("orders.peek", tenant=None, kind="sql", config={"database": database, "query": QUERY})


def test_a_declared_alias_that_reaches_the_platform_database_is_refused(make_tool, settings, monkeypatch):
    # Given "default" declared for tools, and "demo" pointed at the platform's database file
    settings.AGENTOPS_TOOL_DATABASES = ["demo", "default"]
    monkeypatch.setitem(connections["demo"].settings_dict, "ENGINE", connection.settings_dict["ENGINE"])
    monkeypatch.setitem(connections["demo"].settings_dict, "NAME", connection.settings_dict["NAME"])
    monkeypatch.setitem(connections["demo"].settings_dict, "HOST", connection.settings_dict.get("HOST", ""))
    monkeypatch.setitem(connections["demo"].settings_dict, "PORT", connection.settings_dict.get("PORT", ""))

    # When/Then neither alias can be saved
    for alias in ("default", "demo"):
        with pytest.raises(ToolInvalid, match="the platform's own database"):
            make_tool(f"orders.peek_{alias}", tenant=None, kind="sql", config={"database": alias, "query": QUERY})


@pytest.mark.parametrize("database, reason", [
    ("demo", "a tenant's tool cannot name a database alias"),
    ("default", "not a database declared for tools"),
])
def test_a_tenant_tool_stored_with_an_alias_is_refused_at_call(make_tool, make_run, operator, database, reason):
    # Given a tenant's SQL tool whose configuration was changed behind the services' back
    tool = make_tool("orders.peek", kind="sql", config={"dsn_secret": "ORDERS_DB", "query": QUERY})
    Tool.objects.filter(pk=tool.pk).update(config={"database": database, "query": QUERY})

    # When/Then it is refused before any query runs
    with pytest.raises(ToolFailed, match=reason):
        execute(operator, make_run, "orders.peek")


@pytest.mark.parametrize("dsn", ["sqlite", "path", "platform"])
def test_a_tenant_dsn_that_is_a_file_or_the_platform_database_is_refused_at_call(
        make_tool, make_run, operator, tenant, dsn):
    value = {"sqlite": "sqlite:///" + str(connection.settings_dict["NAME"]), "path": str(connection.settings_dict["NAME"]),
             "platform": platform_dsn()}[dsn]
    secret_set(tenant=tenant, name="ORDERS_DB", value=value, actor=ACTOR)
    make_tool("orders.peek", kind="sql", config={"dsn_secret": "ORDERS_DB", "query": QUERY})

    with pytest.raises(ToolFailed) as failed:
        execute(operator, make_run, "orders.peek")

    assert "PostgreSQL URL" in failed.value.message or "platform's own database" in failed.value.message
    assert str(connection.settings_dict["NAME"]) not in failed.value.message
    assert failed.value.retryable is False


def test_a_tenant_dsn_secret_resolves_from_its_own_tenant_only(make_tool, make_run, operator, other_tenant):
    secret_set(tenant=other_tenant, name="ORDERS_DB", value="postgresql://u:p@db.example.com/orders", actor=ACTOR)
    make_tool("orders.peek", kind="sql", config={"dsn_secret": "ORDERS_DB", "query": QUERY})

    with pytest.raises(ToolFailed, match="'ORDERS_DB' is not defined in this tenant's secrets"):
        execute(operator, make_run, "orders.peek")


@pytest.mark.parametrize("dsn", [
    "postgresql://u:p@127.0.0.1:{port}/orders",
    "postgresql://u:p@localhost:{port}/orders",
    "postgresql://u:p@db.example.com:{port}/orders?hostaddr=127.0.0.1",
    "postgresql://u:p@[::ffff:10.0.0.7]:{port}/orders",
])
def test_a_tenant_dsn_at_an_address_tenants_may_not_reach_is_refused_and_nothing_connects(
        make_tool, make_run, operator, tenant, dsn):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        secret_set(tenant=tenant, name="ORDERS_DB", value=dsn.format(port=listener.getsockname()[1]), actor=ACTOR)
        make_tool("orders.peek", kind="sql", config={"dsn_secret": "ORDERS_DB", "query": QUERY})

        with pytest.raises(ToolFailed) as failed:
            execute(operator, make_run, "orders.peek")

        assert failed.value.code == "outbound_address_refused" and failed.value.retryable is False
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing came


def test_a_tenant_dsn_on_a_local_socket_is_refused(make_tool, make_run, operator, tenant):
    secret_set(tenant=tenant, name="ORDERS_DB", value="postgresql:///orders?host=/var/run/postgresql", actor=ACTOR)
    make_tool("orders.peek", kind="sql", config={"dsn_secret": "ORDERS_DB", "query": QUERY})

    with pytest.raises(ToolFailed) as failed:
        execute(operator, make_run, "orders.peek")

    assert failed.value.code == "outbound_address_refused"


@pytest.mark.postgres
def test_a_tenant_tool_reads_its_own_postgresql_database_read_only(make_tool, make_run, operator, tenant,
                                                                  allow_outbound):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    settings = connection.settings_dict
    allow_outbound(f"postgresql://{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}")  # the platform's server
    # Given the tenant's URL of another database on the same server
    secret_set(tenant=tenant, name="ORDERS_DB", value=platform_dsn().rsplit("/", 1)[0] + "/postgres", actor=ACTOR)
    make_tool("orders.peek", kind="sql", config={
        "dsn_secret": "ORDERS_DB", "statement_timeout_ms": 1234,
        "query": "SELECT current_database() AS db, current_setting('transaction_read_only') AS ro, "
                 "current_setting('statement_timeout') AS timeout"})

    # When/Then the query ran there, in a read-only transaction with the tool's time limit
    result = execute(operator, make_run, "orders.peek")
    assert result["rows"] == [{"db": "postgres", "ro": "on", "timeout": "1234ms"}]
