"""Raw SQL writes to the audit table, for tests that prove tampering is refused or detected."""

import hashlib

from django.db import connection, transaction

from agentops.audit.keys import AuditKey
from agentops.audit.models import GENESIS_HASH, AuditEvent, canonical_json

TRIGGER = "audit_event_append_only"  # PostgreSQL's; SQLite has one per statement kind


def tamper(sql: str, params=()) -> None:
    """Write to the audit table behind the application's back, as its database owner could: the
    append-only triggers are switched off (PostgreSQL) or dropped (SQLite, which cannot switch
    them off) and put back in the same transaction, so the table is guarded again whatever the
    test does next."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while foreign-key checks of this transaction's inserts are still
            # deferred: run them now, and keep them immediate until the trigger is back on.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
            cursor.execute(sql, params)
            cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            cursor.execute(sql, params)
            for _, create in triggers:
                cursor.execute(create)


def plain_sha256(event) -> str:
    """The hash of an event as the chain had it before it was keyed, and as anyone can compute it."""
    return hashlib.sha256(canonical_json(event.content()).encode()).hexdigest()


def signed_with(key: AuditKey):
    """A hash function signing an event's content with `key`."""
    return lambda event: key.sign(canonical_json(event.content()))


def rehash_chain(tenant, digest, sign=None) -> None:
    """Recompute the tenant's whole chain with `digest` (event -> hash) and write it back, as a
    database owner who wants a consistent-looking chain would; with `sign` (event -> signature),
    each event's signature too."""
    prev = GENESIS_HASH
    for event in AuditEvent.objects.filter(tenant=tenant, seq__isnull=False).order_by("seq"):
        event.prev_hash = prev
        event.hash = prev = digest(event)
        event.signature = sign(event) if sign else event.signature
        tamper("UPDATE audit_auditevent SET prev_hash = %s, hash = %s, signature = %s WHERE id = %s",
               [event.prev_hash, event.hash, event.signature, event.pk])
