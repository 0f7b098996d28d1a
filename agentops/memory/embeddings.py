"""Embeddings of memory items, computed off the hot path: a task after each save, a periodic
backfill for the rest. A missing embedding never blocks a search: full-text still answers.

Vectors are stored normalised to unit length, as float32 little-endian bytes (and, on PostgreSQL
with pgvector, in the `embedding_vector` column too), so cosine distance is 1 - dot product.
"""

from __future__ import annotations

import logging
import math
from array import array

from django.conf import settings
from django.db import connections, router, transaction

from agentops.llm.base import ProviderError
from agentops.llm.registry import embeddings_provider

from .models import EmbeddingState, MemoryItem
from .search import store_vector

log = logging.getLogger(__name__)

BATCH = 64


def pack(vector: list[float]) -> bytes:
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return array("f", [value / norm for value in vector]).tobytes()


def unpack(data: bytes) -> list[float]:
    values = array("f")
    values.frombytes(bytes(data))
    return values.tolist()


def embed_texts(texts: list[str]) -> list[bytes]:
    """Packed vectors of `texts` from the configured model. Raises ProviderError."""
    vectors = embeddings_provider().embed(model=settings.AGENTOPS_EMBEDDINGS_MODEL, texts=texts)
    return [pack(vector) for vector in vectors]


def query_vector(text: str) -> bytes | None:
    """The packed vector of a search's text, or None (no model, or the model failed: the search
    goes on with full-text alone)."""
    if not settings.AGENTOPS_EMBEDDINGS_MODEL or not text.strip():
        return None
    try:
        return embed_texts([text])[0]
    except ProviderError as exc:
        log.warning("memory search without vectors: %s", exc)
        return None


def memory_embed(*, item_ids: list[int]) -> int:
    """Embed those of these items that still need it. The model is called outside any
    transaction; an item whose content changed meanwhile keeps waiting (compare-and-swap on its
    hash). Idempotent. Returns how many items were embedded."""
    model = settings.AGENTOPS_EMBEDDINGS_MODEL
    if not model:
        return 0
    done = 0
    for start in range(0, len(item_ids), BATCH):
        items = list(MemoryItem.objects.filter(pk__in=item_ids[start:start + BATCH])
                     .exclude(embedding_state=EmbeddingState.READY, embedding_model=model)
                     .values_list("pk", "content", "content_hash"))
        done += _embed_batch(items, model)
    return done


def _embed_batch(items: list[tuple[int, str, str]], model: str) -> int:
    if not items:
        return 0
    try:
        vectors = embed_texts([content for _, content, _ in items])
    except ProviderError as exc:
        log.warning("memory items left to embed later: %s", exc)
        return 0
    connection = connections[router.db_for_write(MemoryItem)]
    done = 0
    with transaction.atomic():
        for (pk, _, digest), vector in zip(items, vectors):
            updated = MemoryItem.objects.filter(pk=pk, content_hash=digest).update(
                embedding=vector, embedding_model=model, embedding_state=EmbeddingState.READY)
            if updated:
                store_vector(connection, pk, unpack(vector))
            done += updated
    return done


def memory_embed_pending(*, limit: int = 10_000) -> int:
    """Embed up to `limit` items that have no embedding from the configured model yet."""
    model = settings.AGENTOPS_EMBEDDINGS_MODEL
    if not model:
        return 0
    pending = (MemoryItem.objects.filter(embedding_state=EmbeddingState.PENDING)
               | MemoryItem.objects.filter(embedding_state=EmbeddingState.READY).exclude(embedding_model=model))
    ids = list(pending.order_by("pk").values_list("pk", flat=True)[:limit])
    return memory_embed(item_ids=ids)
