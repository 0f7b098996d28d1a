"""Every statement the run engine writes by hand, per database: the journal's rows and blobs, the
claim and release of a run, its lease, its counters and the day's usage.

The ORM compiles each query anew; on the engine's hot paths that costs more than the commit on
SQLite and a round trip more on PostgreSQL. So these statements are built once per database and
their values prepared through the model fields (agentops.db), before the caller's transaction
begins wherever the caller can: on SQLite the time inside a write transaction is time every
other writer waits. Everything else in the engine reads and writes through this module or the ORM;
the audit chain's statements stay with the audit log (agentops.audit.services), which every layer
writes to, and the generic statement helpers are agentops.db.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from agentops import db

from .models import Blob, DailyUsage, Run, RunStatus, Step


class JSONText(str):
    """A value already encoded as JSON: stored as it is, not encoded again."""


_write_alias: dict = {}


def _connection(model):
    # Routed once per model: the engine's writes give a router no hints to decide on, and the
    # routers are fixed at start; asking them again cost as much as encoding a journal row.
    alias = _write_alias.get(model)
    if alias is None:
        alias = _write_alias[model] = router.db_for_write(model)
    return connections[alias]


def _json_placeholder(connection) -> str:
    """Where JSON text is bound: PostgreSQL casts it to jsonb, SQLite stores the text."""
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


# A str subclass (JSONText, a TextChoices member) as a plain str: the sqlite3 driver binds a plain
# str as it is, but looks a subclass up among its adapters first, which fails through an
# AttributeError raised, formatted and discarded: more work than binding the rest of the row.
_plain = str.__str__
_encode_json = DjangoJSONEncoder().encode  # one encoder for every call: it keeps no state between them


def encoded_json(value) -> JSONText:
    """`value` as JSON text (Django's encoder: datetimes, decimals, UUIDs), encoded once."""
    return JSONText(_encode_json(value))


def _json_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, JSONText):
        return _plain(value)
    return _encode_json(value)


# Journal rows ---------------------------------------------------------------------------------

_RUN_FIELD = Step._meta.get_field("run")
_STEP_JSON_COLUMNS = {"input", "output", "error", "price"}
_STEP_COLUMNS = ("run_id", "seq", "kind", "name", "status", "input", "output", "error", "attempt", "started_at",
                 "finished_at", "model", "tokens_in", "tokens_out", "tokens_cached", "cost", "price")
_step_insert: dict[str, tuple[str, str]] = {}


def step_row(*, run_id, seq: int, kind: str, name: str, status: str, input=None, output=None, error=None,
             started_at, finished_at=None, attempt: int = 1, model: str = "", tokens_in: int = 0,
             tokens_out: int = 0, tokens_cached: int = 0, cost=Decimal(0), price=None) -> tuple:
    """The values of one journal row for `steps_insert`, every one encoded (JSON dumped once, to
    text). Payloads must already be packed into blobs where large (runs.journal.BlobWriter)."""
    connection = _connection(Step)
    ops = connection.ops
    return (
        _RUN_FIELD.get_db_prep_save(run_id, connection), seq, _plain(kind), name[:200], _plain(status),
        _json_text(input), _json_text(output), _json_text(error), attempt, ops.adapt_datetimefield_value(started_at),
        ops.adapt_datetimefield_value(finished_at), model, tokens_in, tokens_out, tokens_cached,
        ops.adapt_decimalfield_value(cost, 14, 6), _json_text(price),
    )


def steps_insert(rows: list[tuple]) -> None:
    """INSERT journal rows (from step_row) in as few statements as can hold them. Outside a
    transaction the INSERT is its own durable transaction. Nothing is returned: a step is found
    again by its run and seq."""
    connection = _connection(Step)
    if connection.vendor not in _step_insert:
        q = connection.ops.quote_name
        row = ", ".join(_json_placeholder(connection) if c in _STEP_JSON_COLUMNS else "%s" for c in _STEP_COLUMNS)
        _step_insert[connection.vendor] = (
            f"INSERT INTO {q(Step._meta.db_table)} ({', '.join(q(c) for c in _STEP_COLUMNS)})", f"({row})")
    head, row = _step_insert[connection.vendor]
    db.insert_many(connection, head, rows, row=row)


def step_update(*, run_id, seq: int, **fields) -> int:
    """UPDATE one journal row's `fields` (values as the model takes them)."""
    return db.update(Step, {"run": run_id, "seq": seq}, set=fields)


def step_status(*, run_id, seq: int) -> str | None:
    return Step.objects.filter(run_id=run_id, seq=seq).values_list("status", flat=True).first()


_blob_insert: dict[str, str] = {}


def blob_insert(digest: str, text: JSONText) -> None:
    """INSERT the blob unless a row of that digest exists (content-addressed: it is the same)."""
    connection = _connection(Blob)
    if connection.vendor not in _blob_insert:
        q = connection.ops.quote_name
        columns = ", ".join(q(Blob._meta.get_field(name).column) for name in ("sha256", "data", "size", "created_at"))
        insert = "INSERT OR IGNORE" if connection.vendor == "sqlite" else "INSERT"
        conflict = "" if connection.vendor == "sqlite" else f" ON CONFLICT ({q('sha256')}) DO NOTHING"
        _blob_insert[connection.vendor] = (f"{insert} INTO {q(Blob._meta.db_table)} ({columns}) "
                                           f"VALUES (%s, {_json_placeholder(connection)}, %s, %s){conflict}")
    db.execute(connection, _blob_insert[connection.vendor], [
        digest, text, len(text), connection.ops.adapt_datetimefield_value(timezone.now())])


# Claim, lease and release -----------------------------------------------------------------------

_claim_sql: dict[tuple, str] = {}


def run_claim(*, run_id, owner: str, lease_seconds: float) -> Run | None:
    """Take the run if it is queued, or running under an expired lease (its worker died); the
    claimed run, or None when it is not ours to execute. One UPDATE … RETURNING."""
    connection = _connection(Run)
    now = timezone.now()
    return _claim(connection, "one", owner, now, lease_seconds, [
        Run._meta.pk.get_db_prep_value(run_id, connection), connection.ops.adapt_datetimefield_value(now)])


def run_claim_next(*, owner: str, lease_seconds: float) -> Run | None:
    """Take the oldest queued run, if there is one. Concurrent claimers get different runs
    (PostgreSQL skips rows another claimer holds; SQLite has one writer at a time)."""
    return _claim(_connection(Run), "next", owner, timezone.now(), lease_seconds, [])


def _claim_condition(connection, which: str) -> str:
    """The WHERE of a claim: "one" names the run (parameters: its id, now), "next" picks the
    oldest queued run (no parameters)."""
    q = connection.ops.quote_name
    if which == "one":
        return (f"{q('id')} = %s AND {q('status')} IN ('{RunStatus.QUEUED}', '{RunStatus.RUNNING}') "
                f"AND ({q('lease_expires_at')} IS NULL OR {q('lease_expires_at')} < %s)")
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (f"{q('id')} = (SELECT {q('id')} FROM {q(Run._meta.db_table)} WHERE {q('status')} = '{RunStatus.QUEUED}' "
            f"ORDER BY {q('created_at')} LIMIT 1{skip_locked}) AND {q('status')} = '{RunStatus.QUEUED}'")


def _claim(connection, which: str, owner: str, now: datetime, lease_seconds: float, where_params: list):
    key = (which, connection.vendor)
    if key not in _claim_sql:
        q = connection.ops.quote_name
        _claim_sql[key] = (
            f"UPDATE {q(Run._meta.db_table)} SET {q('status')} = '{RunStatus.RUNNING}', {q('lease_owner')} = %s, "
            f"{q('lease_expires_at')} = %s, {q('executions')} = {q('executions')} + 1, "
            f"{q('started_at')} = COALESCE({q('started_at')}, %s), {q('updated_at')} = %s "
            f"WHERE {_claim_condition(connection, which)} RETURNING {db.concrete_columns(Run, connection)}"
        )
    stamp = connection.ops.adapt_datetimefield_value
    params = [owner, stamp(now + timedelta(seconds=lease_seconds)), stamp(now), stamp(now), *where_params]
    # A claim lost to a power cut leaves the run queued, as if no worker had taken it; any
    # durable write of the execution makes the claim durable first (see relaxed_durability).
    with db.relaxed_durability(connection):
        row = db.execute(connection, _claim_sql[key], params, result="one")
    return db.instance_from_row(Run, row, connection) if row else None


def lease_state(run_id) -> tuple[str, bool] | None:
    """(lease owner, cancel requested) of the run, or None if it is gone."""
    return Run.objects.filter(pk=run_id).values_list("lease_owner", "cancel_requested").first()


def lease_renew(*, run_id, owner: str, seconds: float) -> bool:
    """Extend `owner`'s lease; False when someone else holds the run now."""
    return Run.objects.filter(pk=run_id, lease_owner=owner).update(
        lease_expires_at=timezone.now() + timedelta(seconds=seconds)) == 1


def runs_held() -> list[tuple]:
    """(id, lease owner, lease expiry) of every running run, oldest first: as many rows as runs
    being executed at this moment, found through the (status, …) index."""
    return list(Run.objects.filter(status=RunStatus.RUNNING).order_by("created_at")
                .values_list("pk", "lease_owner", "lease_expires_at"))


def run_requeue_held(*, run_id, owner: str, expires_at, now: datetime) -> bool:
    """Give a run back to the queue from `owner`, if `owner` still holds it with the same lease
    (compare and swap: a renewal or another recovery since it was read wins). Call inside the
    transaction that enqueues its task."""
    return Run.objects.filter(pk=run_id, status=RunStatus.RUNNING, lease_owner=owner,
                              lease_expires_at=expires_at).update(
        status=RunStatus.QUEUED, lease_owner="", lease_expires_at=None, updated_at=now) == 1


def run_release(*, run_id, owner: str, add: dict | None = None, **changes) -> db.Statement:
    """The UPDATE that applies `changes` to the run (and increments its counters by `add`) and
    gives up the lease, if `owner` still holds it (compare and swap): run it, and 1 row changed
    means released; 0 means another worker took the run meanwhile, and nothing was written."""
    where = {"id": run_id, "lease_owner": owner, "status": RunStatus.RUNNING}
    return db.update_statement(Run, where, set={**changes, "lease_owner": "", "lease_expires_at": None}, add=add)


# Counters ---------------------------------------------------------------------------------------


def run_counters_add(*, run_id, step_count: int, add: dict) -> db.Statement:
    """The UPDATE that adds a model call's usage to the run and records its step count."""
    return db.update_statement(Run, {"id": run_id}, set={"step_count": step_count}, add=add)


def run_tool_errors_add(*, run_id, count: int = 1) -> int:
    """Count tool calls that ended in an error on the run (negative: a failed call taken back)."""
    return db.update(Run, {"id": run_id}, add={"tool_errors": count})


class DailyUsageAdd:
    """Model usage added to the tenant's and agent's counters of the day (a row made if it has
    none): prepared before the transaction, `run()` inside it."""

    def __init__(self, *, tenant_id, agent_id, counters: dict):
        self.key = {"tenant": tenant_id, "agent": agent_id, "day": timezone.now().date()}
        self.counters = counters
        self.update = db.update_statement(DailyUsage, self.key, add=counters)

    def run(self) -> None:
        if self.update.run():
            return
        try:
            with transaction.atomic():
                DailyUsage.objects.create(tenant_id=self.key["tenant"], agent_id=self.key["agent"],
                                          day=self.key["day"], **self.counters)
        except IntegrityError:  # another worker created today's row first
            self.update.run()
