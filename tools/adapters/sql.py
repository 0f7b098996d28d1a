"""Read-only SQL tools: one parameterised SELECT against a database declared for tools.

Configuration, with exactly one of `database` and `dsn_secret`:
    database              global tools only: a Django database alias listed in the setting
                          AGENTOPS_TOOL_DATABASES (SQLite or PostgreSQL), never "default" nor any
                          alias that reaches the platform's own database
    dsn_secret            the name of a secret holding a PostgreSQL URL (postgresql://user:pw@host/db):
                          one of the tenant's own secrets for a tenant's tool, a platform secret for
                          a global one. Connected to for each call (`_tenant_connection`), never
                          when it points at the platform's database
    query                 one SELECT or WITH statement; arguments appear as `%(name)s` and are
                          always bound by the driver, never interpolated (write a literal % as %%).
                          `%(tenant_id)s` is the calling run's tenant, never an argument: a global
                          tool over a shared database reads each tenant's own rows with it
    max_rows              rows returned at most (default 100); more rows set `truncated`
    statement_timeout_ms  default 5000, and never longer than the invocation's timeout

A tool runs with its owner's powers: a tenant's tool reaches only databases whose address the
tenant itself stored as a secret; the platform's databases are not among them. Both rules are
checked on save (`validate_config`, `validate_owner`) and again at every call.

Read-only is enforced twice. `validate_config` (run by the admin on save) accepts a single read
statement without data-modifying keywords, so mistakes are caught early. At run time the database
itself refuses writes, so a statement that slips past the check still cannot change anything:
PostgreSQL runs it in a `READ ONLY` transaction (a savepoint if the caller has a transaction open
on an alias) that is always rolled back; SQLite runs it with `PRAGMA query_only` switched on.

Delivery (tools.adapters.base): a failure before the query is sent (missing argument, secret or
address, a refused DSN) is `not_sent`; any other is `sent`: the statement is read-only, so
whatever became of it, it changed nothing, and repeating it is always safe.

Returns {"columns": [...], "rows": [{column: value}, ...], "truncated": bool}. Values that JSON
has no type for become strings (decimals, dates, UUIDs) or base64 (bytes).
"""

from __future__ import annotations

import base64
import datetime
import re
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import psycopg
import sqlparse
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections, transaction
from psycopg.conninfo import conninfo_to_dict
from sqlparse import tokens as T

from agentops.secrets.references import valid_name
from agentops.secrets.resolver import SecretError
from agentops.outbound import OutboundRefused, address_check
from tools.adapters.base import Adapter, AdapterError, Delivery, Invocation, require_str

VENDORS = ("postgresql", "sqlite")
DSN_SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_SECONDS = 10
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
MAX_ROWS_LIMIT = 10_000
PARAMETER = re.compile(r"%\((\w+)\)s")
TENANT_PARAMETER = "tenant_id"

# Keywords that change data, schema or session state. Reads never need them; a column that
# happens to carry one of these names can be written as a quoted identifier.
FORBIDDEN_KEYWORDS = frozenset(
    "INSERT UPDATE DELETE MERGE UPSERT REPLACE TRUNCATE CREATE DROP ALTER RENAME GRANT REVOKE "
    "COPY ATTACH DETACH PRAGMA VACUUM REINDEX CLUSTER REFRESH CALL EXEC EXECUTE DO LOCK INTO SET "
    "RESET BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE PREPARE DEALLOCATE LISTEN NOTIFY LOAD COMMENT "
    "DISCARD IMPORT".split()
)

# PostgreSQL SQLSTATEs worth another attempt: serialization failure, deadlock, statement timeout,
# lock not available, and the connection (08) and resource (53) classes.
_PG_RETRYABLE = frozenset({"40001", "40P01", "57014", "55P03", "57P01", "57P02", "57P03"})
_SQLITE_RETRYABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_INTERRUPT")


def check_read_only(query: str) -> None:
    """Raise ValueError unless `query` is exactly one SELECT/WITH statement without writes."""
    statements = [
        s for s in sqlparse.parse(query) if s.token_first(skip_ws=True, skip_cm=True) is not None
    ]
    if len(statements) != 1:
        raise ValueError(f"sql tool: 'query' must be exactly one statement, found {len(statements)}.")
    first = statements[0].token_first(skip_ws=True, skip_cm=True)
    if first.normalized not in ("SELECT", "WITH"):
        raise ValueError(f"sql tool: 'query' must start with SELECT or WITH, not {first.normalized}.")
    for token in statements[0].flatten():
        if token.ttype in T.Keyword and token.normalized in FORBIDDEN_KEYWORDS:
            raise ValueError(
                f"sql tool: 'query' may only read; {token.normalized} is not allowed "
                "(quote it if it is a column name)."
            )


class SqlAdapter(Adapter):
    kind = "sql"

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        if ("database" in config) == ("dsn_secret" in config):
            raise ValueError("sql tool: give exactly one of 'database' (a global tool's database alias) "
                             "and 'dsn_secret' (the secret holding a PostgreSQL URL).")
        if "database" in config:
            _check_tool_database(config["database"])
        elif not valid_name(config["dsn_secret"]):
            raise ValueError("sql tool: 'dsn_secret' must be a secret's name, e.g. ORDERS_DB.")
        check_read_only(require_str(config, "query", kind="sql"))
        for key, upper in (("max_rows", MAX_ROWS_LIMIT), ("statement_timeout_ms", 600_000)):
            value = config.get(key)
            if value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= upper
            ):
                raise ValueError(f"sql tool: '{key}' must be an integer from 1 to {upper}.")

    @classmethod
    def validate_owner(cls, config: dict, *, tenant_tool: bool) -> None:
        if tenant_tool and "database" in config:
            raise ValueError("sql tool: a tenant's tool cannot name a database alias; store a PostgreSQL URL as "
                             "one of the tenant's secrets and name it in 'dsn_secret'.")

    def call(self, invocation: Invocation) -> dict:
        query = self.config["query"]
        max_rows = self.config.get("max_rows", 100)
        timeout_ms = max(
            1, min(self.config.get("statement_timeout_ms", 5000), int(invocation.timeout * 1000))
        )
        names = set(PARAMETER.findall(query))
        # The run's tenant, whatever the arguments say: the model cannot pick another tenant's rows.
        given = {**invocation.arguments, TENANT_PARAMETER: invocation.tenant_id}
        missing = sorted(names - given.keys())
        if missing:
            raise self.unsent(f"Missing query argument(s): {', '.join(missing)}.")
        # Always a dict, even empty, so `%%` means the same with and without arguments.
        params = {name: given[name] for name in names}
        try:
            if "database" in self.config:
                columns, rows = _alias_select(self.config["database"], query, params, max_rows, timeout_ms)
            else:
                columns, rows = _dsn_select(self._dsn(), query, params, max_rows, timeout_ms, guarded=self.guarded)
        except OutboundRefused as refusal:
            raise self.refused(refusal) from None
        except (DatabaseError, psycopg.Error) as exc:
            raise self._database_error(exc, timeout_ms) from None

        if len(set(columns)) != len(columns):
            raise self.error(
                f"The query returns duplicate column names {columns}; give them distinct aliases.",
                retryable=False,
            )
        return {
            "columns": columns,
            "rows": [dict(zip(columns, map(_jsonable, row))) for row in rows[:max_rows]],
            "truncated": len(rows) > max_rows,
        }

    def _dsn(self) -> str:
        try:
            dsn = self.secrets.get(self.config["dsn_secret"])
        except SecretError as exc:
            raise self.unsent(str(exc)) from None
        try:
            _check_dsn(dsn)
        except ValueError as exc:
            raise self.unsent(str(exc)) from None
        return dsn

    def error(self, message: str, *, delivery: Delivery = Delivery.SENT, **kwargs) -> AdapterError:
        # Read-only, enforced by the database: a failed query changed nothing.
        return super().error(message, delivery=delivery, **kwargs)

    def _database_error(self, exc: DatabaseError | psycopg.Error, timeout_ms: int):
        cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
        sqlstate = getattr(cause, "sqlstate", None) or ""
        sqlite_name = getattr(cause, "sqlite_errorname", None) or ""
        if sqlstate == "57014" or sqlite_name == "SQLITE_INTERRUPT":
            return self.error(f"The query exceeded its {timeout_ms} ms time limit.", retryable=True)
        if sqlstate:
            retryable = sqlstate in _PG_RETRYABLE or sqlstate[:2] in ("08", "53")
        elif sqlite_name:
            retryable = sqlite_name.startswith(_SQLITE_RETRYABLE)
        else:  # the connection failed or went away
            retryable = isinstance(exc, (InterfaceError, psycopg.OperationalError, psycopg.InterfaceError))
        return self.error(f"The query failed: {exc}", retryable=retryable)


def _check_tool_database(alias) -> None:
    """Raise ValueError unless `alias` is declared for tools and does not reach the platform's database."""
    if alias not in settings.AGENTOPS_TOOL_DATABASES or alias not in settings.DATABASES:
        declared = ", ".join(settings.AGENTOPS_TOOL_DATABASES) or "none"
        raise ValueError(f"sql tool: {alias!r} is not a database declared for tools "
                         f"(AGENTOPS_TOOL_DATABASES: {declared}).")
    if alias == "default" or _same_database(connections[alias].settings_dict, connections["default"].settings_dict):
        raise ValueError(f"sql tool: {alias!r} is the platform's own database, which tools never reach.")
    if connections[alias].vendor not in VENDORS:
        raise ValueError(
            f"sql tool: database {alias!r} is {connections[alias].vendor}; read-only "
            f"enforcement exists for {' and '.join(VENDORS)} only."
        )


def _same_database(a: dict, b: dict) -> bool:
    if a["ENGINE"] != b["ENGINE"]:
        return False
    if b["ENGINE"] == "agentops.sqlite" or "sqlite" in b["ENGINE"]:
        return Path(str(a["NAME"])).resolve() == Path(str(b["NAME"])).resolve()
    return _same_server(a.get("HOST", ""), a.get("PORT", ""), b.get("HOST", ""), b.get("PORT", "")) and a["NAME"] == b["NAME"]


def _same_server(host_a, port_a, host_b, port_b) -> bool:
    def place(host, port):
        host = str(host or "").lower()
        return ("local" if host in _LOCAL_HOSTS or host.startswith("/") else host), str(port or "5432")

    return place(host_a, port_a) == place(host_b, port_b)


def _check_dsn(dsn: str) -> None:
    """Raise ValueError unless `dsn` is a PostgreSQL URL of a database other than the platform's.
    The messages never quote the DSN: it holds a password."""
    if not dsn.startswith(DSN_SCHEMES):
        raise ValueError("sql tool: the secret in 'dsn_secret' must be a PostgreSQL URL (postgresql://…); "
                         "file paths and other databases are not accepted.")
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ValueError("sql tool: the secret in 'dsn_secret' is not a valid PostgreSQL URL.") from None
    platform = connections["default"].settings_dict
    if "postgresql" not in platform["ENGINE"] or info.get("dbname", "") != platform["NAME"]:
        return
    # `hostaddr`, when given, is where libpq connects; `host` then only names the server.
    hosts = {info.get("host", ""), info.get("hostaddr", "")}
    if any(_same_server(host, info.get("port", ""), platform.get("HOST", ""), platform.get("PORT", "")) for host in hosts):
        raise ValueError("sql tool: the URL in 'dsn_secret' is the platform's own database, which tools never reach.")


def _tenant_connection(dsn: str, timeout_ms: int, *, guarded: bool) -> psycopg.Connection:
    """A new connection to a checked tool DSN: the one place a tool connects to an address it was given.
    Its transactions are READ ONLY; the timeout overrides any `options` the URL carries. `guarded`
    (a tenant's tool): libpq connects to the address agentops.outbound checked (`hostaddr`), while
    the host name still serves TLS verification, so a name cannot resolve elsewhere in between."""
    pinned = {"hostaddr": _checked_address(dsn)} if guarded else {}
    connection = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                 options=f"-c statement_timeout={timeout_ms}", **pinned)
    connection.read_only = True
    return connection


def _checked_address(dsn: str) -> str:
    """The one address `dsn` may connect to, checked by agentops.outbound; OutboundRefused otherwise.
    A socket path (or no host: libpq's default socket) is this machine, and several hosts or ports
    are refused rather than checked one by one."""
    info = conninfo_to_dict(dsn)
    host = info.get("hostaddr") or info.get("host") or ""
    port = str(info.get("port") or 5432)
    if not host or host.startswith(("/", "@")):
        raise OutboundRefused(host or "the default socket", "a local socket", "a socket on this machine")
    if "," in host or not port.isdigit():
        raise OutboundRefused(host, host, "a list of servers; name one host and one port")
    return str(address_check(host, int(port))[0])


def _dsn_select(dsn: str, query: str, params: dict, max_rows: int, timeout_ms: int, *,
                guarded: bool) -> tuple[list, list]:
    with _tenant_connection(dsn, timeout_ms, guarded=guarded) as connection:
        try:
            cursor = connection.execute(query, params)
            return [column.name for column in cursor.description or ()], cursor.fetchmany(max_rows + 1)
        finally:
            connection.rollback()  # a read has nothing to commit


def _alias_select(alias: str, query: str, params: dict, max_rows: int, timeout_ms: int) -> tuple[list, list]:
    connection = connections[alias]
    guard = _postgresql_read_only if connection.vendor == "postgresql" else _sqlite_read_only
    with guard(connection, timeout_ms), connection.cursor() as cursor:
        cursor.execute(query, params)
        return [column[0] for column in cursor.description or ()], cursor.fetchmany(max_rows + 1)


@contextmanager
def _postgresql_read_only(connection, timeout_ms: int) -> Iterator[None]:
    # Inside the caller's transaction this block is a savepoint; rolling it back also reverts
    # READ ONLY and the timeout, which PostgreSQL keeps per transaction, not per savepoint.
    with transaction.atomic(using=connection.alias):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                # SET LOCAL takes no bound parameters; set_config(..., true) is its equivalent.
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            yield
        finally:
            transaction.set_rollback(True, using=connection.alias)


@contextmanager
def _sqlite_read_only(connection, timeout_ms: int) -> Iterator[None]:
    # No transaction here: with `transaction_mode: IMMEDIATE` opening one would take the write
    # lock, which is exactly what a read must not do. query_only is per connection, so it is
    # restored to its previous value whatever happens.
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.execute("PRAGMA query_only").fetchone()[0]
    raw.execute("PRAGMA query_only = ON")
    deadline = time.monotonic() + timeout_ms / 1000
    # SQLite has no statement timeout; the progress handler aborts the statement (SQLITE_INTERRUPT).
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)
        raw.execute(f"PRAGMA query_only = {int(previous)}")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
