"""django-q2 entry points for memory: thin, idempotent."""

from .embeddings import memory_embed, memory_embed_pending
from .services import memory_purge_expired


def purge_expired() -> int:
    """The hourly schedule (migration 0001): delete expired items."""
    return memory_purge_expired()


def embed(item_ids: list[int]) -> int:
    """After a save: embed these items, when a model is configured."""
    return memory_embed(item_ids=item_ids)


def embed_backfill() -> int:
    """Every ten minutes (migration 0001): embed items still without an embedding."""
    return memory_embed_pending()
