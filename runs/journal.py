"""Payload storage for the journal: large values live once in the content-addressed Blob table.

A step's input or output whose JSON exceeds `JOURNAL_BLOB_THRESHOLD` bytes is stored as
`{"$blob": "<sha256>"}`; identical payloads (the tool list sent with every model call, say) are
written once. Loading a journal resolves every reference of the run in one query.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from .models import Blob

BLOB_KEY = "$blob"


def blob_threshold() -> int:
    return getattr(settings, "JOURNAL_BLOB_THRESHOLD", 8192)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


class BlobWriter:
    """Collects blobs while a step is packed; `flush()` writes them inside the step's transaction."""

    def __init__(self):
        self.pending: dict[str, tuple[object, int]] = {}

    def pack(self, value, *, force: bool = False):
        """`value`, or a blob reference when it is large (or `force`)."""
        if value is None:
            return None
        text = canonical_json(value)
        if not force and len(text) <= blob_threshold():
            return value
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.pending[digest] = (json.loads(text), len(text))
        return {BLOB_KEY: digest}

    def flush(self) -> None:
        if self.pending:
            Blob.objects.bulk_create(
                [Blob(sha256=h, data=data, size=size) for h, (data, size) in self.pending.items()],
                ignore_conflicts=True,
            )
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
