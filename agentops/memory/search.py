"""Every statement that searches memory items, per database: full-text (migration 0001's index)
and vector distance (sqlite-vec on SQLite, pgvector on PostgreSQL, when installed).

Each returns `(item id, score)` pairs, best first, for the items that pass a `Filters`: one
tenant's, unexpired, within the given (scope, subject) pairs, kind, metadata values and recency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connections, router

from .models import MemoryItem

# A subject of None in a scope pair: every subject of that scope (a member's view of agent items).
ScopePair = tuple[str, str | None]


@dataclass(frozen=True)
class Filters:
    tenant_id: int
    now: dt.datetime
    scopes: list[ScopePair] | None = None
    kind: str | None = None
    metadata: dict = field(default_factory=dict)
    since: dt.datetime | None = None


def _connection():
    return connections[router.db_for_read(MemoryItem)]


def _where(filters: Filters, vendor: str) -> tuple[str, list]:
    """The conditions on `m` (memory_memoryitem) that every search applies."""
    sql = ["m.tenant_id = %s", "(m.expires_at IS NULL OR m.expires_at > %s)"]
    params: list = [filters.tenant_id, filters.now]
    if filters.scopes is not None:
        pairs = []
        for scope, subject in filters.scopes:
            if subject is None:
                pairs.append("m.scope = %s")
                params.append(scope)
            else:
                pairs.append("(m.scope = %s AND m.subject = %s)")
                params += [scope, subject]
        sql.append("(" + " OR ".join(pairs or ["1 = 0"]) + ")")
    if filters.kind:
        sql.append("m.kind = %s")
        params.append(filters.kind)
    for key, value in sorted(filters.metadata.items()):
        if vendor == "postgresql":
            sql.append("m.metadata ->> %s = %s")
            params += [key, str(value)]
        else:
            sql.append("CAST(json_extract(m.metadata, %s) AS TEXT) = %s")
            params += ['$."' + key.replace('"', "") + '"', str(value)]
    if filters.since:
        sql.append("m.updated_at >= %s")
        params.append(filters.since)
    return " AND ".join(sql), params


_LEXICAL_SQLITE = """
SELECT m.id, -bm25(memory_memoryitem_search) AS score
FROM memory_memoryitem_search JOIN memory_memoryitem m ON m.id = memory_memoryitem_search.rowid
WHERE memory_memoryitem_search MATCH %s AND {where}
ORDER BY bm25(memory_memoryitem_search) LIMIT %s"""

# ts_rank_cd normalisation 1: divided by 1 + log(length), so a long item does not win by size.
_LEXICAL_POSTGRESQL = """
SELECT m.id, ts_rank_cd(m.search_vector, q, 1) AS score
FROM memory_memoryitem m, to_tsquery('english'::regconfig, %s) q
WHERE m.search_vector @@ q AND {where}
ORDER BY score DESC, m.id DESC LIMIT %s"""


def lexical_ranked(terms: list[str], filters: Filters, limit: int, *, every_term: bool = False) -> list[tuple[int, float]]:
    """Items holding any of `terms` (from text.query_terms; all of them with `every_term`),
    stemmed, best first: BM25 on SQLite, cover density on PostgreSQL."""
    if not terms:
        return []
    connection = _connection()
    where, params = _where(filters, connection.vendor)
    if connection.vendor == "postgresql":
        sql, match = _LEXICAL_POSTGRESQL, (" & " if every_term else " | ").join(terms)
    else:
        sql, match = _LEXICAL_SQLITE, (" AND " if every_term else " OR ").join(f'"{term}"' for term in terms)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(where=where), [match, *params, limit])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


# On SQLite `vec_distance_cosine` is sqlite-vec's, or its stand-in (agentops.sqlite) where the
# driver cannot load extensions; on PostgreSQL pgvector's `<=>` on the column migration 0001 adds.
_VECTOR_SQLITE = """
SELECT m.id, 1 - vec_distance_cosine(m.embedding, %s) AS score FROM memory_memoryitem m
WHERE m.embedding_state = 'ready' AND m.embedding_model = %s AND {where}
ORDER BY score DESC LIMIT %s"""
_VECTOR_POSTGRESQL = """
SELECT m.id, 1 - (m.embedding_vector <=> %s::vector) AS score FROM memory_memoryitem m
WHERE m.embedding_vector IS NOT NULL AND m.embedding_model = %s AND {where}
ORDER BY m.embedding_vector <=> %s::vector LIMIT %s"""


def has_vector_column(connection) -> bool:
    """PostgreSQL: whether pgvector was there when migration 0001 ran."""
    if not hasattr(connection, "_memory_vector_column"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'memory_memoryitem' "
                           "AND column_name = 'embedding_vector'")
            connection._memory_vector_column = cursor.fetchone() is not None
    return connection._memory_vector_column


def store_vector(connection, item_id: int, vector: list[float]) -> None:
    """PostgreSQL with pgvector: copy an item's embedding where `<=>` can order by it."""
    if connection.vendor == "postgresql" and has_vector_column(connection):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE memory_memoryitem SET embedding_vector = %s::vector WHERE id = %s",
                           [_vector_text(vector), item_id])


def _vector_text(vector) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


def vector_ranked(vector: list[float], packed: bytes, model: str, filters: Filters,
                  limit: int) -> list[tuple[int, float]]:
    """Items embedded by `model`, nearest to `vector` (cosine) first. Empty on PostgreSQL without
    pgvector."""
    connection = _connection()
    where, params = _where(filters, connection.vendor)
    if connection.vendor == "postgresql":
        if not has_vector_column(connection):
            return []
        text = _vector_text(vector)
        sql, args = _VECTOR_POSTGRESQL, [text, model, *params, text, limit]
    else:
        sql, args = _VECTOR_SQLITE, [packed, model, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(where=where), args)
        return [(row[0], float(row[1])) for row in cursor.fetchall()]
