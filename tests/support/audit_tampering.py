"""Raw SQL writes to the audit table, for tests that prove tampering is refused or detected."""

import pytest
from django.db import connection, transaction

TRIGGER = "audit_event_append_only"


def tamper(sql: str, params=()) -> None:
    """Write to the audit table behind the application's back, as someone with database access could.

    On PostgreSQL that means switching the append-only trigger off first; it is switched back on in
    the same transaction, so the table is guarded again whatever the test does next.
    """
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        if postgresql:
            # ALTER TABLE refuses while foreign-key checks of this transaction's inserts are still
            # deferred: run them now, and keep them immediate until the trigger is back on.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        if postgresql:
            cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)
