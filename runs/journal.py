"""The journal's payloads and what replay reads of it.

Large values live once in the content-addressed Blob table.

A step's input or output whose JSON exceeds `JOURNAL_BLOB_THRESHOLD` bytes is stored as
`{"$blob": "<sha256>"}`; identical payloads (the tool list sent with every model call, say) are
written once. Loading a journal resolves every reference of the run in one query.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from . import store
from .models import Blob, Step
from .store import JSONText

BLOB_KEY = "$blob"


def blob_threshold() -> int:
    return settings.JOURNAL_BLOB_THRESHOLD


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


class BlobWriter:
    """Collects blobs while a step is packed; `flush()` writes them inside the step's transaction.

    `stored`: digests known to be in the table already (a run sends the same tool list with every
    model call), skipped by `flush()` and extended with what it writes once that commits.
    """

    def __init__(self, stored: set[str] | None = None, *, threshold: int | None = None):
        self.pending: dict[str, JSONText] = {}
        self.stored = stored if stored is not None else set()
        self.threshold = blob_threshold() if threshold is None else threshold

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
            if not force and len(value) <= self.threshold:
                return value
            value = json.loads(value)
        text = canonical_json(value)
        if not force and len(text) <= self.threshold:
            return JSONText(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.pending[digest] = JSONText(text)
        return {BLOB_KEY: digest}

    def flush(self) -> None:
        new = {digest: blob for digest, blob in self.pending.items() if digest not in self.stored}
        for digest, text in new.items():
            store.blob_insert(digest, text)
        if new:
            transaction.on_commit(lambda: self.stored.update(new))
        self.pending.clear()


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
