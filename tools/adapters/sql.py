"""Read-only SQL tools: one parameterised SELECT against a configured Django database.

Configuration:
    database              a Django database alias (default "default"); SQLite or PostgreSQL
    query                 one SELECT or WITH statement; arguments appear as `%(name)s` and are
                          always bound by the driver, never interpolated (write a literal % as %%)
    max_rows              rows returned at most (default 100); more rows set `truncated`
    statement_timeout_ms  default 5000, and never longer than the invocation's timeout

Read-only is enforced twice. `validate_config` (run by the admin on save) accepts a single read
statement without data-modifying keywords, so mistakes are caught early. At run time the database
itself refuses writes, so a statement that slips past the check still cannot change anything:
PostgreSQL runs it in a `READ ONLY` transaction (a savepoint if the caller has a transaction open)
that is always rolled back; SQLite runs it with `PRAGMA query_only` switched on.

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
from typing import Any, Iterator

import sqlparse
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections, transaction
from sqlparse import tokens as T

from tools.adapters.base import Adapter, Invocation, require_str

VENDORS = ("postgresql", "sqlite")
MAX_ROWS_LIMIT = 10_000
PARAMETER = re.compile(r"%\((\w+)\)s")

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
        alias = config.get("database", "default")
        if alias not in settings.DATABASES:
            raise ValueError(f"sql tool: unknown database {alias!r}.")
        if connections[alias].vendor not in VENDORS:
            raise ValueError(
                f"sql tool: database {alias!r} is {connections[alias].vendor}; read-only "
                f"enforcement exists for {' and '.join(VENDORS)} only."
            )
        check_read_only(require_str(config, "query", kind="sql"))
        for key, upper in (("max_rows", MAX_ROWS_LIMIT), ("statement_timeout_ms", 600_000)):
            value = config.get(key)
            if value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= upper
            ):
                raise ValueError(f"sql tool: '{key}' must be an integer from 1 to {upper}.")

    def call(self, invocation: Invocation) -> dict:
        alias = self.config.get("database", "default")
        query = self.config["query"]
        max_rows = self.config.get("max_rows", 100)
        timeout_ms = max(
            1, min(self.config.get("statement_timeout_ms", 5000), int(invocation.timeout * 1000))
        )
        names = set(PARAMETER.findall(query))
        missing = sorted(names - invocation.arguments.keys())
        if missing:
            raise self.error(f"Missing query argument(s): {', '.join(missing)}.", retryable=False)
        params = {name: invocation.arguments[name] for name in names}

        connection = connections[alias]
        guard = _postgresql_read_only if connection.vendor == "postgresql" else _sqlite_read_only
        try:
            with guard(connection, timeout_ms), connection.cursor() as cursor:
                # Always a dict, even empty, so `%%` means the same with and without arguments.
                cursor.execute(query, params)
                columns = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchmany(max_rows + 1)
        except DatabaseError as exc:
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

    def _database_error(self, exc: DatabaseError, timeout_ms: int):
        cause = exc.__cause__
        sqlstate = getattr(cause, "sqlstate", None) or ""
        sqlite_name = getattr(cause, "sqlite_errorname", None) or ""
        if sqlstate == "57014" or sqlite_name == "SQLITE_INTERRUPT":
            return self.error(f"The query exceeded its {timeout_ms} ms time limit.", retryable=True)
        if sqlstate:
            retryable = sqlstate in _PG_RETRYABLE or sqlstate[:2] in ("08", "53")
        elif sqlite_name:
            retryable = sqlite_name.startswith(_SQLITE_RETRYABLE)
        else:
            retryable = isinstance(exc, InterfaceError)  # The connection went away.
        return self.error(f"The query failed: {exc}", retryable=retryable)


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
