"""Events are written pending and sealed into the chain by the sequencer (agentops.audit.sequencer).

The chain fields (seq, prev_hash, hash) become nullable: NULL while an event is pending. A new
`signature` (an HMAC of the content but the chain fields, written with the event) lets an edit of
a pending event be found; events sealed before have none, their `hash` covers them.

The append-only triggers of 0005 are replaced by ones that also let the sequencer's one update
through, and nothing more: chain fields from NULL to values, once, every other column unchanged.
(On SQLite the fields' changes rebuild the table, which drops its triggers: they are created again
at the end.) Reversing needs every event sealed first (`manage.py audit seal`).
"""

import importlib

from django.db import migrations, models

previous = importlib.import_module("agentops.audit.migrations.0005_keyed_chain_and_triggers")

REFUSED = previous.REFUSED
# Every column but the chain fields: what sealing must leave as it was.
CONTENT_COLUMNS = ["id", "tenant_id", "created_at", "actor_type", "actor_id", "actor_label", "action",
                   "target_type", "target_id", "target_label", "data", "changes", "key_id", "signature"]
CHAIN_COLUMNS = ["seq", "prev_hash", "hash"]


def sealing(same: str) -> str:
    """The condition that an UPDATE is the sequencer's (`same` compares NEW.c and OLD.c)."""
    return " AND ".join([*(f"OLD.{c} IS NULL AND NEW.{c} IS NOT NULL" for c in CHAIN_COLUMNS),
                         *(same.format(c=c) for c in CONTENT_COLUMNS)])


POSTGRESQL_CREATE = [
    f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('agentops.audit_purge', true) = OLD.tenant_id::text THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND {sealing("NEW.{c} IS NOT DISTINCT FROM OLD.{c}")} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{REFUSED.format(op="%")}', TG_OP;
END;
$$ LANGUAGE plpgsql""",
    previous.POSTGRESQL_CREATE[1],
]

SQLITE_CREATE = [
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
    WHEN NOT ({sealing("NEW.{c} IS OLD.{c}")})
    BEGIN SELECT RAISE(ABORT, '{REFUSED.format(op="UPDATE")}'); END""",
    previous.SQLITE_CREATE[1],
]


def triggers(vendor: str) -> tuple[list[str], list[str]]:
    """(create, drop) statements of the append-only triggers that let sealing through."""
    return {"postgresql": (POSTGRESQL_CREATE, previous.POSTGRESQL_DROP),
            "sqlite": (SQLITE_CREATE, previous.SQLITE_DROP)}[vendor]


def drop_triggers(apps, schema_editor):
    previous.run(schema_editor, triggers(schema_editor.connection.vendor)[1])


def create_triggers(apps, schema_editor):
    previous.run(schema_editor, triggers(schema_editor.connection.vendor)[0])


def create_previous_triggers(apps, schema_editor):
    previous.run(schema_editor, previous.triggers(schema_editor.connection.vendor)[0])


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_anchor_schedule"),
        ("tenancy", "0003_tenant_group"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_previous_triggers),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["tenant_id", "id"]},
        ),
        migrations.AddField(
            model_name="auditevent",
            name="signature",
            field=models.CharField(blank=True, help_text="HMAC-SHA256 of the content but the chain fields, written with the event.", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, help_text="HMAC-SHA256 of the content, `seq` and `prev_hash` included.", max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(blank=True, help_text="Position in the tenant's chain, from 1; empty while pending.", null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(condition=models.Q(("seq__isnull", True)), fields=["tenant", "id"], name="audit_pending"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
