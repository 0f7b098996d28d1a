"""Full-text search over runs' input and output previews, indexed on each database.

SQLite: an FTS5 table of (run id, text), one row per preview, filled by triggers on runs_run, so
that every writer (the ORM, the engine's own statements) keeps it current. A migration that makes
SQLite rebuild runs_run drops these triggers: create them again in the same migration
(tests/runs/test_list_queries.py fails otherwise). PostgreSQL: a GIN index on the previews' text
search vector; the query repeats its expression (runs/search.py).
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE runs_run_search USING fts5(run_id UNINDEXED, text, tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER runs_run_search_input AFTER INSERT ON runs_run WHEN new.input_preview != ''
       BEGIN INSERT INTO runs_run_search (run_id, text) VALUES (new.id, new.input_preview); END""",
    """CREATE TRIGGER runs_run_search_output AFTER UPDATE OF output_preview ON runs_run
       WHEN new.output_preview != '' AND new.output_preview IS NOT old.output_preview
       BEGIN INSERT INTO runs_run_search (run_id, text) VALUES (new.id, new.output_preview); END""",
    "INSERT INTO runs_run_search (run_id, text) SELECT id, input_preview FROM runs_run WHERE input_preview != ''",
    "INSERT INTO runs_run_search (run_id, text) SELECT id, output_preview FROM runs_run WHERE output_preview != ''",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS runs_run_search_input",
    "DROP TRIGGER IF EXISTS runs_run_search_output",
    "DROP TABLE IF EXISTS runs_run_search",
]
POSTGRESQL_FORWARD = [
    "CREATE INDEX run_search ON runs_run USING gin "
    "(to_tsvector('simple'::regconfig, input_preview || ' ' || output_preview))",
]
POSTGRESQL_BACKWARD = ["DROP INDEX IF EXISTS run_search"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("runs", "0004_list_indexes_previews_tool_errors"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        ),
    ]
