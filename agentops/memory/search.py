"""Every statement that searches memory items, per database: full-text (migration 0001's index)
and vector distance (sqlite-vec on SQLite, pgvector on PostgreSQL, when installed).

Each returns `(item id, score)` pairs, best first, for the items that pass a `Filters`: one
tenant's, unexpired, within the given (scope, subject) pairs, kind, metadata values and recency.
"""

from __future__ import annotations

import datetime as dt
import math
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
FROM memory_memoryitem_search CROSS JOIN memory_memoryitem m ON m.id = memory_memoryitem_search.rowid
WHERE memory_memoryitem_search MATCH %s AND {where}
ORDER BY bm25(memory_memoryitem_search) LIMIT %s"""

# The same ranking among candidates. `+rowid` keeps SQLite from making the IN one FTS5 lookup per
# candidate, each of which would count every term's items again for bm25()'s idf.
_LEXICAL_SQLITE_AMONG = """
SELECT rowid, -bm25(memory_memoryitem_search) AS score FROM memory_memoryitem_search
WHERE memory_memoryitem_search MATCH %s AND +rowid IN ({candidates})
ORDER BY bm25(memory_memoryitem_search) LIMIT %s"""
# Candidates: the filter's items holding one of some terms (the full-text index drives), or all
# of the filter's items (they drive: a few named subjects' items).
_HOLDERS_SQLITE = """
SELECT m.id FROM memory_memoryitem_search f CROSS JOIN memory_memoryitem m ON m.id = f.rowid
WHERE f.memory_memoryitem_search MATCH %s AND {where}"""
_WITHIN_SQLITE = "SELECT m.id FROM memory_memoryitem m WHERE {where}"

# bm25()'s N (every tenant's items: SQLite counts a table's b-tree entries without reading rows)
# and how many items hold each term, counted by the index (which stems the term as queries are).
_TERM_ITEMS_SQLITE = "SELECT (SELECT count(*) FROM memory_memoryitem){counts}"
_TERM_COUNT_SQLITE = ", (SELECT count(*) FROM memory_memoryitem_search WHERE memory_memoryitem_search MATCH %s)"

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
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            match = (" & " if every_term else " | ").join(terms)
            cursor.execute(_LEXICAL_POSTGRESQL.format(where=where), [match, *params, limit])
            return _scored(cursor)
        if every_term:
            cursor.execute(_LEXICAL_SQLITE.format(where=where), [_fts_query(terms, "AND"), *params, limit])
            return _scored(cursor)
        return _sqlite_any_term(cursor, terms, filters, where, params, limit)


def _scored(cursor) -> list[tuple[int, float]]:
    return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _fts_query(terms: list[str], operator: str) -> str:
    return f" {operator} ".join(f'"{term}"' for term in terms)


FLOOR_IDF = 1e-6  # FTS5's idf for a term held by half the items or more


@dataclass(frozen=True)
class _TermWeights:
    """bm25()'s view of a query's terms: rarest first, each with its largest possible share of an
    item's score. FTS5's bm25() (k1 = 1.2, b = 0.75) adds for a term idf · tf·(k1 + 1) /
    (tf + k1·(1 − b + b·length/average length)), which stays below idf · (k1 + 1) whatever tf
    and length; idf = ln((N − n + ½) / (n + ½)) for n of N items (every tenant's) holding the term,
    floored at 1e-6 for a term in half of them or more."""

    terms: list[str]
    ceilings: list[float]

    @classmethod
    def read(cls, cursor, terms: list[str]) -> _TermWeights:
        cursor.execute(_TERM_ITEMS_SQLITE.format(counts=_TERM_COUNT_SQLITE * len(terms)),
                       [_fts_query([term], "OR") for term in terms])
        rows, *holders = cursor.fetchone()
        held = sorted((count, term) for count, term in zip(holders, terms) if count)  # held by none: adds nothing
        return cls([term for _, term in held],
                   [2.2 * max(math.log((rows - count + 0.5) / (count + 0.5)), FLOOR_IDF) for count, _ in held])

    def negligible(self, index: int) -> bool:
        """The term's share is below 2.2e-6 (held by half the items or more): it can only swap
        items whose scores differ by less than that."""
        return self.ceilings[index] <= 2.2 * FLOOR_IDF

    def essential_count(self, threshold: float) -> int:
        """How many of the rarest terms an item must hold to possibly score `threshold` or more:
        an item holding none of them scores at most the other terms' ceilings."""
        for count in range(len(self.terms)):
            if sum(self.ceilings[count:]) < threshold:
                return count
        return len(self.terms)



def _sqlite_any_term(cursor, terms: list[str], filters: Filters, where: str, params: list,
                     limit: int) -> list[tuple[int, float]]:
    """Top-k pruning in the MaxScore spirit. bm25() scores every item holding a query term, and a
    term in tens of thousands of items makes that the whole cost. So the terms held by half the
    items or more are left out of the scoring (`negligible`), unless the others leave places free;
    and unless the filter names its subjects (their few items are ranked, all of them), only the
    items holding one of the rarer terms (`_sqlite_essential`) are ranked, with every other term
    too, so their scores and order are bm25()'s."""
    weights = _TermWeights.read(cursor, terms)
    if not weights.terms:
        return []
    rank = _sqlite_plan(cursor, weights, filters, where, params, limit)
    scored = [term for index, term in enumerate(weights.terms) if not weights.negligible(index)]
    ranked = rank(scored) if scored else []
    if len(ranked) < limit and len(scored) < len(weights.terms):  # places for items holding only common terms
        ranked = rank(weights.terms)
    return ranked


def _sqlite_plan(cursor, weights: _TermWeights, filters: Filters, where: str, params: list, limit: int):
    """How to rank the items that can enter the top `limit`, given the terms to score them by."""
    if _subjects_named(filters):
        return lambda terms: _sqlite_among(cursor, terms, _WITHIN_SQLITE.format(where=where), params, limit)
    essential = _sqlite_essential(cursor, weights, where, params, limit)
    if essential == weights.terms:
        return lambda terms: _sqlite_ranked(cursor, terms, where, params, limit)
    holders = [_fts_query(essential, "OR"), *params]
    return lambda terms: _sqlite_among(cursor, list(dict.fromkeys(essential + terms)),
                                       _HOLDERS_SQLITE.format(where=where), holders, limit)


def _sqlite_essential(cursor, weights: _TermWeights, where: str, params: list, limit: int) -> list[str]:
    """The rarest terms of which every item that can enter the top `limit` holds one."""
    # The floor cannot exceed the rarest term's ceiling: when even that would not spare a term,
    # ranking the rarest term's holders to find it is wasted.
    if weights.essential_count(weights.ceilings[0]) == len(weights.terms):
        return weights.terms
    # Scored by the rarest term alone: below the items' full scores, as the terms' shares only add.
    partial = _sqlite_ranked(cursor, weights.terms[:1], where, params, limit)
    threshold = partial[-1][1] if len(partial) == limit else 0.0
    return weights.terms[:max(1, weights.essential_count(threshold))]


def _sqlite_ranked(cursor, terms: list[str], where: str, params: list, limit: int) -> list[tuple[int, float]]:
    cursor.execute(_LEXICAL_SQLITE.format(where=where), [_fts_query(terms, "OR"), *params, limit])
    return _scored(cursor)


def _sqlite_among(cursor, terms: list[str], candidates: str, params: list, limit: int) -> list[tuple[int, float]]:
    cursor.execute(_LEXICAL_SQLITE_AMONG.format(candidates=candidates), [_fts_query(terms, "OR"), *params, limit])
    return _scored(cursor)


def _subjects_named(filters: Filters) -> bool:
    return bool(filters.scopes) and all(subject is not None for _, subject in filters.scopes)


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
