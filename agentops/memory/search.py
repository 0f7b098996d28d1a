"""Every statement that searches memory items, per database: full-text (migration 0001's index)
and vector distance (sqlite-vec on SQLite, pgvector on PostgreSQL, when installed).

Each returns `(item id, score)` pairs, best first, for the items that pass a `Filters`: one
tenant's, unexpired, within the given (scope, subject) pairs, kind, metadata values and recency.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace

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
    """The conditions on `m` (memory_memoryitem) that every search applies. The tenant is named in
    each scope pair: so SQLite reads each pair's items from the (tenant, scope, subject) index,
    where a tenant condition outside them would have it read the whole tenant's."""
    sql = ["(m.expires_at IS NULL OR m.expires_at > %s)"]
    params: list = [filters.now]
    if filters.scopes is None:
        sql.append("m.tenant_id = %s")
        params.append(filters.tenant_id)
    elif not filters.scopes:
        sql.append("1 = 0")  # no scope visible: nothing
    else:
        pairs = []
        for scope, subject in filters.scopes:
            if subject is None:
                pairs.append("(m.tenant_id = %s AND m.scope = %s)")
                params += [filters.tenant_id, scope]
            else:
                pairs.append("(m.tenant_id = %s AND m.scope = %s AND m.subject = %s)")
                params += [filters.tenant_id, scope, subject]
        sql.append("(" + " OR ".join(pairs) + ")")
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
# Candidates: the filter's items holding one of some terms (the full-text index drives), the
# newest MANY of them (the index walks its rows newest first and stops), or all of the filter's
# items (they drive, when there are few: one user's, a small tenant's).
_HOLDERS_SQLITE = """
SELECT m.id FROM memory_memoryitem_search f CROSS JOIN memory_memoryitem m ON m.id = f.rowid
WHERE f.memory_memoryitem_search MATCH %s AND {where}"""
_NEWEST_HOLDERS_SQLITE = "SELECT id FROM (" + _HOLDERS_SQLITE + " ORDER BY f.rowid DESC LIMIT %s)"
_WITHIN_SQLITE = "SELECT m.id FROM memory_memoryitem m WHERE {where}"
_COUNT_WITHIN_SQLITE = "SELECT count(*) FROM (SELECT 1 FROM memory_memoryitem m WHERE {where} LIMIT %s)"

# More items than one search should rank. A term held by more is common: the places in a ranking
# that only items holding common terms could take are filled from the newest MANY of them.
MANY = 5000

# bm25()'s N (every tenant's items: SQLite counts a table's b-tree entries without reading rows)
# and how many items hold each term, counted by the index (which stems the term as queries are).
_TERM_ITEMS_SQLITE = "SELECT (SELECT count(*) FROM memory_memoryitem){counts}"
_TERM_COUNT_SQLITE = ", (SELECT count(*) FROM memory_memoryitem_search WHERE memory_memoryitem_search MATCH %s)"

# ts_rank normalisation 1: divided by 1 + log(length), so a long item does not win by size.
_LEXICAL_POSTGRESQL = """
SELECT m.id, ts_rank(m.search_vector, q, 1) AS score
FROM memory_memoryitem m, to_tsquery('english'::regconfig, %s) q
WHERE m.search_vector @@ q AND {where}
ORDER BY score DESC, m.id DESC LIMIT %s"""
# The same among candidates: the items holding a rare term, and the newest MANY holding a common
# one; each part ranked where it is read (one visit per item), their best merged.
_LEXICAL_POSTGRESQL_AMONG = """
(SELECT m.id, ts_rank(m.search_vector, q, 1) AS score
 FROM memory_memoryitem m, to_tsquery('english'::regconfig, %s) q
 WHERE m.search_vector @@ to_tsquery('english'::regconfig, %s) AND {where} ORDER BY score DESC, m.id DESC LIMIT %s)
UNION
(SELECT newest.id, ts_rank(newest.search_vector, q, 1) AS score
 FROM (SELECT m.id, m.search_vector FROM memory_memoryitem m
       WHERE m.search_vector @@ to_tsquery('english'::regconfig, %s) AND {where} ORDER BY m.id DESC LIMIT %s) newest,
      to_tsquery('english'::regconfig, %s) q
 ORDER BY score DESC, newest.id DESC LIMIT %s)
ORDER BY score DESC, id DESC LIMIT %s"""
# How many items (of every tenant) hold each term's stems, as ANALYZE last estimated: the share of
# rows holding a lexeme among the column's most common ones (none for the others: they are rarer),
# times the table's estimated rows. Free, and no statistics yet means no term is common.
_TERM_ITEMS_POSTGRESQL = """
SELECT t.term, coalesce(max(s.freqs[array_position(s.lexemes, l.lexeme)]), 0) * max(c.reltuples)
FROM unnest(%s::text[]) t(term)
CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english'::regconfig, t.term))) l(lexeme)
CROSS JOIN pg_class c
LEFT JOIN (SELECT most_common_elems::text::text[] AS lexemes, most_common_elem_freqs AS freqs FROM pg_stats
           WHERE schemaname = current_schema() AND tablename = 'memory_memoryitem'
           AND attname = 'search_vector') s ON true
WHERE c.oid = 'memory_memoryitem'::regclass
GROUP BY t.term"""


def lexical_ranked(terms: list[str], filters: Filters, limit: int, *, every_term: bool = False) -> list[tuple[int, float]]:
    """Items holding any of `terms` (from text.query_terms; all of them with `every_term`),
    stemmed, best first: BM25 on SQLite, ts_rank on PostgreSQL."""
    if not terms:
        return []
    connection = _connection()
    where, params = _where(filters, connection.vendor)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and every_term:
            cursor.execute(_LEXICAL_POSTGRESQL.format(where=where), [" & ".join(terms), *params, limit])
            return _scored(cursor)
        if connection.vendor == "postgresql":
            return _postgresql_any_term(cursor, terms, where, params, limit, scoped=filters.scopes is not None)
        if every_term:
            cursor.execute(_LEXICAL_SQLITE.format(where=where), [_fts_query(terms, "AND"), *params, limit])
            return _scored(cursor)
        return _sqlite_any_term(cursor, terms, where, params, limit, scopes=_scopes_where(filters))


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
    holders: list[int]

    @classmethod
    def read(cls, cursor, terms: list[str]) -> _TermWeights:
        cursor.execute(_TERM_ITEMS_SQLITE.format(counts=_TERM_COUNT_SQLITE * len(terms)),
                       [_fts_query([term], "OR") for term in terms])
        rows, *holders = cursor.fetchone()
        held = sorted((count, term) for count, term in zip(holders, terms) if count)  # held by none: adds nothing
        return cls([term for _, term in held],
                   [2.2 * max(math.log((rows - count + 0.5) / (count + 0.5)), FLOOR_IDF) for count, _ in held],
                   [count for count, _ in held])

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


def _sqlite_any_term(cursor, terms: list[str], where: str, params: list, limit: int, *,
                     scopes: tuple[str, list] | None) -> list[tuple[int, float]]:
    """bm25() scores every item holding a query term, and a term in tens of thousands of items makes
    that the whole cost of a search. So only the items that can enter the top `limit` are ranked
    (`_sqlite_plan`), and the terms held by half the items or more are left out of the scoring
    (`negligible`) unless the others leave places free.
    """
    weights = _TermWeights.read(cursor, terms)
    if not weights.terms:
        return []
    rank = _sqlite_plan(cursor, weights, where, params, limit, scopes)
    scored = [term for index, term in enumerate(weights.terms) if not weights.negligible(index)]
    ranked = rank(scored) if scored else []
    if len(ranked) < limit and len(scored) < len(weights.terms):  # places for items holding only common terms
        ranked = rank(weights.terms)
    return ranked


def _sqlite_plan(cursor, weights: _TermWeights, where: str, params: list, limit: int,
                 scopes: tuple[str, list] | None):
    """How to rank the items that can enter the top `limit`, given the terms to score them by: all
    holders of a term when they are few; else the filter's items when they are few; else, by top-k
    pruning in the MaxScore spirit, the holders of the rarer terms (`_sqlite_essential`), every
    term scoring them, so that their scores and order are bm25()'s; of the holders of common terms
    among those, the newest MANY."""
    if sum(weights.holders) <= MANY:
        return lambda terms: _sqlite_ranked(cursor, terms, where, params, limit)
    if scopes and _count_within(cursor, *scopes) <= MANY:
        return lambda terms: _sqlite_among(cursor, terms, _WITHIN_SQLITE.format(where=where), params, limit)
    essential = _sqlite_essential(cursor, weights, where, params, limit)
    rare = [term for term, count in zip(weights.terms, weights.holders) if term in essential and count <= MANY]
    common = [term for term in essential if term not in rare]
    if essential == weights.terms and not common:
        return lambda terms: _sqlite_ranked(cursor, terms, where, params, limit)
    candidates, holders = [], []
    if rare:
        candidates.append(_HOLDERS_SQLITE.format(where=where))
        holders += [_fts_query(rare, "OR"), *params]
    if common:
        candidates.append(_NEWEST_HOLDERS_SQLITE.format(where=where))
        holders += [_fts_query(common, "OR"), *params, MANY]
    return lambda terms: _sqlite_among(cursor, list(dict.fromkeys(essential + terms)),
                                       " UNION ALL ".join(candidates), holders, limit)


def _scopes_where(filters: Filters) -> tuple[str, list] | None:
    """The conditions of the filter's scopes alone (None: tenant-wide), whose items bound the
    filter's: counting them reads the (tenant, scope, subject) index, however rare a kind or a
    metadata value is."""
    if filters.scopes is None:
        return None
    return _where(replace(filters, kind=None, metadata={}, since=None), "sqlite")


def _count_within(cursor, where: str, params: list) -> int:
    """The items meeting `where`, counted up to MANY + 1."""
    cursor.execute(_COUNT_WITHIN_SQLITE.format(where=where), [*params, MANY + 1])
    return cursor.fetchone()[0]


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


def _postgresql_any_term(cursor, terms: list[str], where: str, params: list, limit: int, *,
                         scoped: bool) -> list[tuple[int, float]]:
    """ts_rank() over every item holding a query term; but tenant-wide, of the items holding
    only common terms, only the newest MANY: a term in 90% of the items would otherwise make every
    search rank 90% of the tenant (ts_rank knows no term rarity to prune by). Within scopes
    the planner reads the scopes' items from the (tenant, scope, subject) index: few to rank."""
    common = set()
    if not scoped:
        cursor.execute(_TERM_ITEMS_POSTGRESQL, [terms])
        common = {term for term, holders in cursor.fetchall() if holders > MANY}
    if not common:
        cursor.execute(_LEXICAL_POSTGRESQL.format(where=where), [" | ".join(terms), *params, limit])
        return _scored(cursor)
    # A query of no rare term gets a rare part that matches nothing (an empty tsquery).
    rare = " | ".join(term for term in terms if term not in common)
    every = " | ".join(terms)
    cursor.execute(_LEXICAL_POSTGRESQL_AMONG.format(where=where),
                   [every, rare, *params, limit, " | ".join(sorted(common)), *params, MANY, every, limit, limit])
    return _scored(cursor)


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
