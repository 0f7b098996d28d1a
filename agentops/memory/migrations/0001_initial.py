"""Memory items and their full-text index on each database.

SQLite: an external-content FTS5 table over the items' content, rowid = the item's id, with the
porter stemmer; triggers keep it current whoever writes. A later migration that makes SQLite
rebuild memory_memoryitem drops the triggers: run SQLITE_BACKWARD then SQLITE_FORWARD in it.
PostgreSQL: a stored English tsvector column (stemmed, stop words removed) with a GIN index; the
model does not know the column, the search's SQL reads it (agentops/memory/search.py).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from agentops.db import run_per_vendor

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE memory_memoryitem_search USING fts5(content, content='memory_memoryitem', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER memory_memoryitem_search_insert AFTER INSERT ON memory_memoryitem BEGIN
       INSERT INTO memory_memoryitem_search (rowid, content) VALUES (new.id, new.content);
       END""",
    """CREATE TRIGGER memory_memoryitem_search_update AFTER UPDATE OF content ON memory_memoryitem BEGIN
       INSERT INTO memory_memoryitem_search (memory_memoryitem_search, rowid, content)
       VALUES ('delete', old.id, old.content);
       INSERT INTO memory_memoryitem_search (rowid, content) VALUES (new.id, new.content);
       END""",
    """CREATE TRIGGER memory_memoryitem_search_delete AFTER DELETE ON memory_memoryitem BEGIN
       INSERT INTO memory_memoryitem_search (memory_memoryitem_search, rowid, content)
       VALUES ('delete', old.id, old.content);
       END""",
    "INSERT INTO memory_memoryitem_search (memory_memoryitem_search) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS memory_memoryitem_search_insert",
    "DROP TRIGGER IF EXISTS memory_memoryitem_search_update",
    "DROP TRIGGER IF EXISTS memory_memoryitem_search_delete",
    "DROP TABLE IF EXISTS memory_memoryitem_search",
]
POSTGRESQL_FORWARD = [
    "ALTER TABLE memory_memoryitem ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED",
    "CREATE INDEX memory_item_search ON memory_memoryitem USING gin (search_vector)",
]
POSTGRESQL_BACKWARD = [
    "DROP INDEX IF EXISTS memory_item_search",
    "ALTER TABLE memory_memoryitem DROP COLUMN IF EXISTS search_vector",
]


# Expired items go hourly; items without an embedding (a task lost, a model configured later) are
# embedded every ten minutes, when a model is configured.
SCHEDULES = {
    "agentops.memory.purge": {"func": "agentops.memory.tasks.purge_expired", "schedule_type": "H"},
    "agentops.memory.embed_backfill": {"func": "agentops.memory.tasks.embed_backfill", "schedule_type": "I",
                                       "minutes": 10},
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, fields in SCHEDULES.items():
        Schedule.objects.update_or_create(name=name, defaults={**fields, "repeats": -1})


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


def add_vector_column(apps, schema_editor):
    """PostgreSQL with pgvector installed: a `vector` copy of each item's embedding, which the
    vector search orders by (agentops/memory/search.py). Without pgvector, search is full-text only."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    schema_editor.execute("ALTER TABLE memory_memoryitem ADD COLUMN embedding_vector vector")


def drop_vector_column(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE memory_memoryitem DROP COLUMN IF EXISTS embedding_vector")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("tenancy", "0004_membership_attributes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="MemoryItem",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("scope", models.CharField(choices=[("user", "User"), ("agent", "Agent"), ("tenant", "Tenant")], max_length=10)),
                ("subject", models.CharField(blank=True, help_text="Username, agent slug, or empty for the tenant.", max_length=150)),
                ("kind", models.CharField(choices=[("fact", "Fact"), ("preference", "Preference"), ("summary", "Summary"), ("episode", "Episode")], default="fact", max_length=20)),
                ("content", models.TextField(help_text="At most AGENTOPS_MEMORY_MAX_CONTENT_CHARS characters.")),
                ("metadata", models.JSONField(blank=True, default=dict)),
                ("content_hash", models.CharField(editable=False, max_length=64)),
                ("source_run", models.UUIDField(blank=True, null=True)),
                ("source_step", models.PositiveIntegerField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("embedding_state", models.CharField(choices=[("pending", "Pending"), ("ready", "Ready")], default="pending", max_length=10)),
                ("embedding_model", models.CharField(blank=True, max_length=100)),
                ("embedding", models.BinaryField(blank=True, editable=False, help_text="float32 vector, little-endian.", null=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("tenant", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenancy.tenant")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["tenant", "scope", "subject", "created_at", "id"], name="memory_item_subject"),
                    models.Index(fields=["tenant", "created_at", "id"], name="memory_item_list"),
                    models.Index(condition=models.Q(("expires_at__isnull", False)), fields=["expires_at"], name="memory_item_expiry"),
                    models.Index(condition=models.Q(("embedding_state", "pending")), fields=["embedding_state"], name="memory_item_to_embed"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "scope", "subject", "content_hash"), name="memory_item_dedupe"),
                ],
            },
        ),
        migrations.RunPython(
            run_per_vendor({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            run_per_vendor({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        ),
        migrations.RunPython(add_vector_column, drop_vector_column),
        migrations.RunPython(create_schedules, delete_schedules),
    ]
