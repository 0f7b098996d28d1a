"""Statements on the hot paths of the run engine, built once instead of compiled per call.

The ORM compiles every query anew; for a one-row INSERT that costs more than the commit on
SQLite. These helpers keep the SQL per model and database and still prepare every value through
its field, exactly as `Model.save()` does, and hand it to the driver's cursor directly (see
`execute`). Use them only where a run does the same statement over and over; everywhere else the
ORM is clearer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Model


def execute(connection, sql: str, params, *, result: str = "rowcount"):
    """Run one statement and return its `result`: "one" (the first row), "all" (the rows) or
    "rowcount".

    When nothing observes the connection's queries (no execute wrapper, no query log — tests,
    DEBUG and instrumentation install one of these), the statement goes straight to the driver's
    cursor: Django's cursor wrapper and its checks cost about as much as an SQLite journal
    INSERT's own work. Errors are still Django's, and a transaction marked broken is still
    refused. For the engine's statements only, which never run inside an event loop.
    """
    if connection.execute_wrappers or connection.queries_logged:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return _result(cursor, result)
    connection.close_if_health_check_failed()
    if connection.connection is None:
        connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.create_cursor()
        try:
            cursor.execute(sql, params)
            return _result(cursor, result)
        finally:
            cursor.close()


def relaxed_durability(connection):
    """A context in which commits may be lost to a power cut but not to a crash of the process,
    on backends that offer it cheaply (SQLite: see agentops.sqlite); elsewhere commits stay as
    they are. Only for writes whose loss is harmless: a lease claim, a task queue's bookkeeping."""
    relaxed = getattr(connection, "relaxed_durability", None)
    return relaxed() if relaxed is not None else contextlib.nullcontext()


def _result(cursor, result: str):
    if result == "one":
        return cursor.fetchone()
    if result == "all":
        return cursor.fetchall()
    return cursor.rowcount


MAX_ROWS_PER_INSERT = 500  # 8,500 parameters for a journal row's 17 columns: within every database's limit


def insert_many(connection, head: str, rows: list[tuple], *, row: str = "", returning: str = "") -> list:
    """INSERT `rows` (values adapted for the database) with `head` ("INSERT INTO t (a, b)"), each
    row's VALUES written as `row` ("(%s, %s)" by default), in batches of MAX_ROWS_PER_INSERT: one
    statement per batch. Returns the rows of `returning` (columns), if given, in no set order."""
    returned = []
    for start in range(0, len(rows), MAX_ROWS_PER_INSERT):
        batch = rows[start:start + MAX_ROWS_PER_INSERT]
        key = (head, row, len(batch), returning)
        if key not in _insert_sql:
            placeholders = row or f"({', '.join(['%s'] * len(batch[0]))})"
            _insert_sql[key] = (f"{head} VALUES {', '.join([placeholders] * len(batch))}"
                                + (f" RETURNING {returning}" if returning else ""))
        params = [value for values in batch for value in values]
        if returning:
            returned += execute(connection, _insert_sql[key], params, result="all")
        else:
            execute(connection, _insert_sql[key], params)
    return returned


_insert_sql: dict[tuple, str] = {}


@dataclass(frozen=True)
class Statement:
    """A statement whose values are already adapted for the database: prepared before a
    transaction, run inside it. On SQLite the time inside a write transaction is time every
    other writer waits, so hot paths do their Python work first."""

    connection: object
    sql: str
    params: list

    def run(self) -> int:
        """Execute it; returns the number of rows changed."""
        return execute(self.connection, self.sql, self.params)


_update_sql: dict[tuple, tuple[str, list, list, list]] = {}


def update(model: type[Model], where: dict, *, set: dict | None = None, add: dict | None = None) -> int:
    """UPDATE the rows of `model` matching `where` (field: value, all equal); `set` assigns
    values, `add` increments columns by values. Returns the number of rows changed."""
    return update_statement(model, where, set=set, add=add).run()


def update_statement(model: type[Model], where: dict, *, set: dict | None = None, add: dict | None = None) -> Statement:
    """The `update` above, prepared to run later."""
    set, add = set or {}, add or {}
    connection = connections[router.db_for_write(model)]
    key = (model, connection.vendor, tuple(where), tuple(set), tuple(add))
    if key not in _update_sql:
        quote = connection.ops.quote_name
        fields = {name: model._meta.get_field(name) for name in (*where, *set, *add)}
        column = {name: quote(field.column) for name, field in fields.items()}
        assignments = [f"{column[n]} = %s" for n in set] + [f"{column[n]} = {column[n]} + %s" for n in add]
        conditions = [f"{column[n]} = %s" for n in where]
        _update_sql[key] = (
            f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}",
            [fields[n] for n in set], [fields[n] for n in add], [fields[n] for n in where],
        )
    sql, set_fields, add_fields, where_fields = _update_sql[key]
    params = [field.get_db_prep_save(value, connection)
              for fields, values in ((set_fields, set), (add_fields, add), (where_fields, where))
              for field, value in zip(fields, values.values())]
    return Statement(connection, sql, params)


_converters: dict[tuple, list] = {}


def instance_from_row(model: type[Model], row, connection) -> Model:
    """A `model` instance from a row of all its concrete columns in field order (as RETURNING
    or SELECT of `concrete_columns(model)` gives them), converted as the ORM would convert them."""
    key = (model, connection.vendor)
    if key not in _converters:
        _converters[key] = []
        for index, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            convs = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if convs:
                _converters[key].append((index, convs, column))
    values = list(row)
    for index, convs, column in _converters[key]:
        for convert in convs:
            values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], values)


def concrete_columns(model: type[Model], connection) -> str:
    """The model's concrete columns, quoted, in field order (for instance_from_row)."""
    return ", ".join(connection.ops.quote_name(field.column) for field in model._meta.concrete_fields)


def run_per_vendor(statements_by_vendor: dict[str, list[str]]):
    """A RunPython function executing the statements listed for the migrating database's vendor
    (none for another): for what Django's schema operations cannot say, such as full-text indexes."""

    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run
