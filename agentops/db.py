"""Statements on the hot paths of the run engine, built once instead of compiled per call.

The ORM compiles every query anew; for a one-row INSERT that costs more than the commit on
SQLite. These helpers keep the SQL per model and database and still prepare every value through
its field, exactly as `Model.save()` does. Use them only where a run does the same statement
over and over; everywhere else the ORM is clearer.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model

_insert_sql: dict[tuple, tuple[str, list]] = {}


def insert(obj: Model) -> Model:
    """INSERT `obj` (a new instance whose primary key the database assigns) and set its pk.

    Bypasses `save()` and its signals: only for models that do nothing on save but insert.
    """
    model = type(obj)
    connection = connections[router.db_for_write(model)]
    key = (model, connection.vendor)
    if key not in _insert_sql:
        quote = connection.ops.quote_name
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        _insert_sql[key] = (
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(model._meta.pk.column)}",
            fields,
        )
    sql, fields = _insert_sql[key]
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
