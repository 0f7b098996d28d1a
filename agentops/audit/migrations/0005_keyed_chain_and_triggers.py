"""Sign every existing chain with the audit key, and refuse UPDATE and DELETE in the database.

Until now a chain was plain SHA-256, which anyone who can write the table can recompute. Each
tenant's chain is checked as it was (an edited, missing or inserted event stops the migration:
signing a broken chain would hide the break) and signed again, event by event, with the signing
key of agentops.audit.keys (AGENTOPS_AUDIT_KEYS, or the key derived from SECRET_KEY): an HMAC of
the same content plus the key's id. Reversing it hashes the chains with plain SHA-256 again.

Triggers, on SQLite and PostgreSQL alike, then refuse every UPDATE, and every DELETE but the
retention purge's (agentops.audit.services.audit_purge), which first allows deletions of one
tenant's events on its own connection: on PostgreSQL with the transaction-local setting
`agentops.audit_purge` (the tenant's id), on SQLite through the function
`agentops_audit_purge_allowed(tenant_id)` that the project's SQLite backend defines on each
connection (without that backend the function is missing and every DELETE fails). TRUNCATE on
PostgreSQL, and `manage.py flush` on both, still empty the table: they wipe the whole database,
which the chains' anchors reveal.
"""

import hashlib
import json

from django.db import migrations

from agentops.audit.keys import key_get, signing_key

GENESIS_HASH = "0" * 64
REFUSED = "audit events are append-only ({op} refused; retention purges go through manage.py audit purge)"

POSTGRESQL_CREATE = [
    f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('agentops.audit_purge', true) = OLD.tenant_id::text THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{REFUSED.format(op="%")}', TG_OP;
END;
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
]
POSTGRESQL_DROP = ["DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent"]

SQLITE_CREATE = [
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, '{REFUSED.format(op="UPDATE")}'); END""",
    f"""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
    WHEN NOT agentops_audit_purge_allowed(OLD.tenant_id)
    BEGIN SELECT RAISE(ABORT, '{REFUSED.format(op="DELETE")}'); END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"]


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content(event) -> dict:
    """The hashed content as this migration found it (AuditEvent.content() without the key)."""
    return {
        "tenant": event.tenant_id,
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "target": [event.target_type, event.target_id, event.target_label],
        "data": event.data,
        "changes": event.changes,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "prev_hash": event.prev_hash,
    }


def plain_hash(event) -> str:
    return hashlib.sha256(canonical_json(content(event)).encode()).hexdigest()


def keyed_hash(event) -> str:
    key = key_get(event.key_id)
    return key.sign(canonical_json({**content(event), "key": event.key_id})) if key else "(unknown key)"


def rechain(AuditEvent, tenant_id, *, check, sign, key_id) -> None:
    """Check the tenant's chain with `check`, then give each event `key_id` and the hash `sign`
    computes with the new prev_hash."""
    updated, expected_seq, old_prev, new_prev = [], 1, GENESIS_HASH, GENESIS_HASH
    for event in AuditEvent.objects.filter(tenant_id=tenant_id).order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq or event.prev_hash != old_prev or check(event) != event.hash:
            raise RuntimeError(
                f"The audit chain of tenant id {tenant_id} is broken at event #{event.seq} (id {event.pk}); "
                "it was not signed, since that would hide the break. Inspect it (`manage.py audit verify` "
                "of the previous release) before migrating.")
        expected_seq, old_prev = event.seq + 1, event.hash
        event.prev_hash, event.key_id = new_prev, key_id
        event.hash = new_prev = sign(event)
        updated.append(event)
    AuditEvent.objects.bulk_update(updated, ["key_id", "prev_hash", "hash"], batch_size=1000)


def tenant_ids(AuditEvent) -> list[int]:
    # order_by: the model's ordering (tenant, seq) would make DISTINCT one row per event.
    return list(AuditEvent.objects.order_by("tenant_id").values_list("tenant_id", flat=True).distinct())


def run(schema_editor, statements) -> None:
    for sql in statements:
        schema_editor.execute(sql, params=None)  # no params: the SQL's % is literal


def triggers(vendor: str) -> tuple[list[str], list[str]]:
    """(create, drop) statements of the append-only triggers on this database."""
    return {"postgresql": (POSTGRESQL_CREATE, POSTGRESQL_DROP), "sqlite": (SQLITE_CREATE, SQLITE_DROP)}[vendor]


def sign_chains(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    create, drop = triggers(schema_editor.connection.vendor)
    run(schema_editor, drop)  # 0002's trigger on PostgreSQL
    for tenant_id in tenant_ids(AuditEvent):
        rechain(AuditEvent, tenant_id, check=plain_hash, sign=keyed_hash, key_id=signing_key().id)
    run(schema_editor, create)


def unsign_chains(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    create, drop = triggers(schema_editor.connection.vendor)
    run(schema_editor, drop)
    for tenant_id in tenant_ids(AuditEvent):
        rechain(AuditEvent, tenant_id, check=keyed_hash, sign=plain_hash, key_id="")
    if schema_editor.connection.vendor == "postgresql":
        run(schema_editor, create)  # 0002 had the trigger on PostgreSQL only


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_auditevent_key_id")]
    operations = [migrations.RunPython(sign_chains, unsign_chains)]
