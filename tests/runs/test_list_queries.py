"""The runs list's queries under each filter, asked of the database's planner: an index serves the
order (no sort of the tenant's runs), and a search goes through the full-text index, on SQLite and,
when DATABASE_URL names one, PostgreSQL.

SQLite: `EXPLAIN QUERY PLAN` must not say "USE TEMP B-TREE FOR ORDER BY" nor scan runs_run.
PostgreSQL: with sorting priced out (`enable_sort = off`) the plan must still have no Sort node:
so an index serves the order, however small the test's tables make a sort look cheap.
"""

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agentops.keyset import Cursor
from agentops.tenancy.roles import Role
from runs.models import Run
from runs.selectors import run_list
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db

# Each filter, and the index (Run.Meta) SQLite's plan must read, one per statement of the page.
FILTERS = {
    "none": ({}, ["run_list"]),
    "status": ({"status": "waiting"}, ["run_list_status"]),
    "succeeded_with_errors": ({"status": "succeeded_with_errors"}, ["run_list_with_errors"]),
    "agent": ({"agent": "support"}, ["run_list_agent"]),
    "agent object": ({"agent": "the agent"}, ["run_list_agent"]),
    "agent and version": ({"agent": "support", "version": 1}, ["run_list_version"]),
    "thread": ({"thread": "t-1"}, ["run_list_thread"]),
    "user": ({"user": "alice"}, ["run_list_created_by", "run_list_on_behalf_of"]),
    "dates": ({"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 12, 31)}, ["run_list"]),
    "status and dates": ({"status": "failed", "date_from": dt.date(2026, 1, 1)}, ["run_list_status"]),
}


@pytest.fixture
def filters_for(member, agent):
    alice = member("alice", Role.VIEWER)
    for n in range(30):
        make_run(agent, thread=f"t-{n % 3}", created_by=alice if n % 2 else None, input_preview=f"order {n}")

    def resolve(filters: dict) -> dict:
        objects = {"user": alice, "agent": agent}
        return {name: objects[name] if value in ("alice", "the agent") else value for name, value in filters.items()}

    return resolve


def plans(query, cursor, *, priced_out=("sort",)) -> list[str]:
    """The plan of each of the page's statements, as one text per statement. On PostgreSQL the
    plan nodes `priced_out` are avoided whenever the query can do without them."""
    return [explain(*read.query.sql_with_params(), priced_out) for read in query.reads(cursor=cursor, size=50)]


def explain(sql: str, params, priced_out) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(row[-1] for row in cursor.fetchall())
        with transaction.atomic():
            for node in priced_out:
                cursor.execute(f"SET LOCAL enable_{node} = off")
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            return json.dumps(cursor.fetchone()[0])


def sorts(plan: str) -> bool:
    if connection.vendor == "sqlite":
        return "USE TEMP B-TREE FOR ORDER BY" in plan or "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plan
    return '"Sort"' in plan or '"Incremental Sort"' in plan


CURSORS = {"first page": None, "next page": Cursor((timezone.now(), "0" * 32)),
           "previous page": Cursor((timezone.now(), "0" * 32), before=True)}


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("page", CURSORS)
def test_an_index_serves_the_order_of_each_filtered_page(principal, filters_for, name, page):
    filters, indexes = FILTERS[name]
    query = run_list(principal=principal, **filters_for(filters))

    for plan, index in zip(plans(query, CURSORS[page]), indexes, strict=True):
        assert not sorts(plan), plan
        if connection.vendor == "sqlite":
            assert f"SEARCH runs_run USING INDEX {index} (" in plan, plan


def test_a_search_reads_the_full_text_index_not_the_runs(principal, filters_for, agent):
    # Enough of the tenant's runs that walking them all is clearly the dearer plan: with a few
    # dozen, PostgreSQL's estimates of the two bitmap scans come close and its choice wavers.
    Run.objects.bulk_create(Run(tenant=agent.tenant, agent=agent, agent_version=agent.current_version,
                                workflow="agent_loop", input={}, input_preview=f"order {n}")
                            for n in range(30, 1000))
    query = run_list(principal=principal, q="order 7")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE runs_run")  # statistics: every run is the tenant's, few hold "7"

    # PostgreSQL: with only bitmap scans allowed, the GIN index is the one that finds the words
    # (proof that the query's expression is the index's; on a large table the planner weighs it
    # against walking the tenant's runs in order).
    (plan,) = plans(query, None, priced_out=("seqscan", "indexscan"))

    if connection.vendor == "sqlite":
        assert "runs_run_search VIRTUAL TABLE" in plan and "SCAN runs_run\n" not in plan + "\n", plan
    else:
        assert '"Index Name": "run_search"' in plan and '"Seq Scan"' not in plan, plan


def test_the_search_triggers_exist(db):
    """A migration that makes SQLite rebuild runs_run drops them: it must create them again."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL searches through an index of runs_run itself")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'runs_run'")
        triggers = {row[0] for row in cursor.fetchall()}
    assert {"runs_run_search_insert", "runs_run_search_update", "runs_run_search_delete"} <= triggers


def test_the_search_index_follows_runs_created_changed_and_deleted(agent):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL searches through an index of runs_run itself")
    run = make_run(agent, input_preview="refund order 7")
    Run.objects.filter(pk=run.pk).update(output_preview="refused: amount too large")

    def indexed(word):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM runs_run_search WHERE runs_run_search MATCH %s", [word])
            return cursor.fetchone()[0]

    assert (indexed("refund"), indexed("refused")) == (1, 1)
    run.delete()
    assert (indexed("refund"), indexed("refused")) == (0, 0)
