"""Payload storage for the journal: large values live once in the content-addressed Blob table.

A step's input or output whose JSON exceeds `JOURNAL_BLOB_THRESHOLD` bytes is stored as
`{"$blob": "<sha256>"}`; identical payloads (the tool list sent with every model call, say) are
written once. Loading a journal resolves every reference of the run in one query.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router, transaction
from django.utils import timezone

from agentops import db

from .models import Blob, Step

BLOB_KEY = "$blob"


def blob_threshold() -> int:
    return getattr(settings, "JOURNAL_BLOB_THRESHOLD", 8192)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


class JSONText(str):
    """A value already encoded as JSON: packed and written as it is, not encoded again."""


class BlobWriter:
    """Collects blobs while a step is packed; `flush()` writes them inside the step's transaction.

    `stored`: digests known to be in the table already (a run sends the same tool list with every
    model call), skipped by `flush()` and extended with what it writes once that commits.
    """

    def __init__(self, stored: set[str] | None = None):
        self.pending: dict[str, JSONText] = {}
        self.stored = stored if stored is not None else set()

    def pack(self, value, *, force: bool = False):
        """`value`, or a blob reference when it is large (or `force`)."""
        packed = self.pack_column(value, force=force)
        return value if isinstance(packed, JSONText) and not isinstance(value, JSONText) else packed

    def pack_column(self, value, *, force: bool = False):
        """What a step's JSON column stores for `value`: its JSON text (encoded once, here) or a
        blob reference."""
        if value is None:
            return None
        if isinstance(value, JSONText):
            if not force and len(value) <= blob_threshold():
                return value
            value = json.loads(value)
        text = canonical_json(value)
        if not force and len(text) <= blob_threshold():
            return JSONText(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.pending[digest] = JSONText(text)
        return {BLOB_KEY: digest}

    def flush(self) -> None:
        new = {digest: blob for digest, blob in self.pending.items() if digest not in self.stored}
        for digest, text in new.items():
            _store_blob(digest, text)
        if new:
            transaction.on_commit(lambda: self.stored.update(new))
        self.pending.clear()


_blob_sql: dict[str, str] = {}


def _store_blob(digest: str, text: JSONText) -> None:
    """INSERT the blob unless a row of that digest exists (content-addressed: it is the same)."""
    connection = connections[router.db_for_write(Blob)]
    if connection.vendor not in _blob_sql:
        q = connection.ops.quote_name
        columns = ", ".join(q(Blob._meta.get_field(name).column) for name in ("sha256", "data", "size", "created_at"))
        insert = "INSERT OR IGNORE" if connection.vendor == "sqlite" else "INSERT"
        conflict = "" if connection.vendor == "sqlite" else f" ON CONFLICT ({q('sha256')}) DO NOTHING"
        _blob_sql[connection.vendor] = (f"{insert} INTO {q(Blob._meta.db_table)} ({columns}) "
                                        f"VALUES (%s, {_json_placeholder(connection)}, %s, %s){conflict}")
    db.execute(connection, _blob_sql[connection.vendor], [
        digest, text, len(text), connection.ops.adapt_datetimefield_value(timezone.now())])


def is_blob_ref(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value


def collect_refs(value, into: set[str]) -> None:
    if is_blob_ref(value):
        into.add(value[BLOB_KEY])
    elif isinstance(value, dict):
        for item in value.values():
            collect_refs(item, into)
    elif isinstance(value, list):
        for item in value:
            collect_refs(item, into)


def load_blobs(hashes: set[str]) -> dict[str, object]:
    if not hashes:
        return {}
    return dict(Blob.objects.filter(sha256__in=hashes).values_list("sha256", "data"))


def resolve(value, blobs: dict[str, object]):
    """`value` with every blob reference replaced by its payload (from a preloaded map)."""
    if is_blob_ref(value):
        return blobs[value[BLOB_KEY]]
    if isinstance(value, dict):
        return {k: resolve(v, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, blobs) for v in value]
    return value


# The journal's rows ------------------------------------------------------------------------------


@dataclass(slots=True)
class JournalEntry:
    """What replay needs of a step: where it is, what it was, how it ended. Inputs stay in the
    database: replay never needs them."""

    seq: int
    kind: str
    name: str
    status: str
    output: Any = None
    error: Any = None
    attempt: int = 1


def load_journal(run_id) -> dict[int, JournalEntry]:
    """The run's steps by seq, outputs resolved: one query for the steps, one for their blobs."""
    entries = [
        JournalEntry(*row)
        for row in Step.objects.filter(run_id=run_id).order_by("seq")
        .values_list("seq", "kind", "name", "status", "output", "error", "attempt")
    ]
    refs: set[str] = set()
    for entry in entries:
        collect_refs(entry.output, refs)
    blobs = load_blobs(refs)
    for entry in entries:
        entry.output = resolve(entry.output, blobs)
    return {entry.seq: entry for entry in entries}


_RUN_FIELD = Step._meta.get_field("run")
_JSON_COLUMNS = {"input", "output", "error", "price"}
_INSERT_COLUMNS = ("run_id", "seq", "kind", "name", "status", "input", "output", "error", "attempt", "started_at",
                   "finished_at", "model", "tokens_in", "tokens_out", "tokens_cached", "cost", "price")


def encode_step(*, run_id, seq: int, kind: str, name: str, status: str, input=None, output=None, error=None,
                started_at, finished_at=None, attempt: int = 1, model: str = "", tokens_in: int = 0,
                tokens_out: int = 0, tokens_cached: int = 0, cost=Decimal(0), price=None) -> tuple:
    """The parameters of one journal row's INSERT (see insert_steps), every value encoded: JSON
    columns dumped once, to text. Payloads must already be packed (see BlobWriter).

    Kept apart from the INSERT so that the encoding happens before a transaction begins: on
    SQLite, the time inside one is time other writers wait.
    """
    connection = connections[router.db_for_write(Step)]
    ops = connection.ops
    return (
        _RUN_FIELD.get_db_prep_save(run_id, connection), seq, kind, name[:200], status,
        _json_text(input), _json_text(output), _json_text(error), attempt, ops.adapt_datetimefield_value(started_at),
        ops.adapt_datetimefield_value(finished_at), model, tokens_in, tokens_out, tokens_cached,
        ops.adapt_decimalfield_value(cost, 14, 6), _json_text(price),
    )


def insert_steps(rows: list[tuple]) -> None:
    """INSERT journal rows (parameters from encode_step), as few statements as can hold them.

    The journal's hot path: `Model.save()` compiles its statement anew on every call, which on
    SQLite costs more than the commit itself, and on PostgreSQL every statement is a round trip.
    Outside a transaction the INSERT is its own durable transaction: no BEGIN/COMMIT round trips.
    Nothing is returned: a step is found again by its run and seq.
    """
    connection = connections[router.db_for_write(Step)]
    if connection.vendor not in _insert_parts:
        quote = connection.ops.quote_name
        row = ", ".join(_json_placeholder(connection) if c in _JSON_COLUMNS else "%s" for c in _INSERT_COLUMNS)
        _insert_parts[connection.vendor] = (
            f"INSERT INTO {quote(Step._meta.db_table)} ({', '.join(quote(c) for c in _INSERT_COLUMNS)})", f"({row})")
    head, row = _insert_parts[connection.vendor]
    db.insert_many(connection, head, rows, row=row)


_insert_parts: dict[str, tuple[str, str]] = {}


def _json_text(value) -> str | None:
    if value is None or isinstance(value, JSONText):
        return value
    return json.dumps(value, cls=DjangoJSONEncoder)


def _json_placeholder(connection) -> str:
    """Where JSON text is bound: PostgreSQL casts it to jsonb, SQLite stores the text."""
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"
