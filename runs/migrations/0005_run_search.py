"""Full-text search over runs' input and output previews, indexed on each database.

SQLite: an FTS5 table whose row for a run has the run's rowid (so that a search hands the list a
set of integers, cheap to hold and probe), kept current by triggers on runs_run whoever writes
(the ORM, the engine's own statements). A migration that makes SQLite rebuild runs_run drops these
triggers and renumbers its rows (Django copies the columns, not the rowids): run SQLITE_BACKWARD
then SQLITE_FORWARD in that migration (tests/runs/test_list_queries.py fails otherwise).
PostgreSQL: a GIN index on the previews' text search vector; the query repeats its expression
(runs/search.py).
"""

from django.db import migrations

from agentops.db import run_per_vendor

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE runs_run_search USING fts5(input, output, tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER runs_run_search_insert AFTER INSERT ON runs_run BEGIN
       INSERT INTO runs_run_search (rowid, input, output) VALUES (new.rowid, new.input_preview, new.output_preview);
       END""",
    """CREATE TRIGGER runs_run_search_update AFTER UPDATE OF input_preview, output_preview ON runs_run BEGIN
       UPDATE runs_run_search SET input = new.input_preview, output = new.output_preview WHERE rowid = new.rowid;
       END""",
    """CREATE TRIGGER runs_run_search_delete AFTER DELETE ON runs_run BEGIN
       DELETE FROM runs_run_search WHERE rowid = old.rowid;
       END""",
    "INSERT INTO runs_run_search (rowid, input, output) SELECT rowid, input_preview, output_preview FROM runs_run",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS runs_run_search_insert",
    "DROP TRIGGER IF EXISTS runs_run_search_update",
    "DROP TRIGGER IF EXISTS runs_run_search_delete",
    "DROP TABLE IF EXISTS runs_run_search",
]
POSTGRESQL_FORWARD = [
    "CREATE INDEX run_search ON runs_run USING gin "
    "(to_tsvector('simple'::regconfig, input_preview || ' ' || output_preview))",
]
POSTGRESQL_BACKWARD = ["DROP INDEX IF EXISTS run_search"]


class Migration(migrations.Migration):

    dependencies = [
        ("runs", "0004_list_indexes_previews_tool_errors"),
    ]

    operations = [
        migrations.RunPython(
            run_per_vendor({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            run_per_vendor({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        ),
    ]
