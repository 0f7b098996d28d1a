"""Reading memory items: always one tenant's, unexpired, within what the caller may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from agentops.keyset import KeysetQuery

from .embeddings import query_vector, unpack
from .models import MemoryItem, MemoryScope
from .search import Filters, ScopePair, lexical_ranked, vector_ranked
from .text import query_terms

# Each ranking hands the fusion this many candidates per result asked for (at least MIN_CANDIDATES).
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20


@dataclass(frozen=True)
class ScoredItem:
    item: MemoryItem
    score: float


def memory_items(*, tenant, scopes: list[ScopePair] | None = None, now: dt.datetime | None = None):
    """The tenant's unexpired items within `scopes` ((scope, subject) pairs, a subject of None for
    every subject of the scope; None: all of them)."""
    items = MemoryItem.objects.filter(tenant=tenant).exclude(expires_at__lte=now or timezone.now())
    if scopes is None:
        return items
    visible = MemoryItem.objects.none()
    for scope, subject in scopes:
        pair = items.filter(scope=scope) if subject is None else items.filter(scope=scope, subject=subject)
        visible = visible | pair
    return visible


def visible_scopes(principal) -> list[ScopePair] | None:
    """What a member may read: their own user items, every agent and tenant item; all of it (None)
    for one whose role manages memory."""
    if principal.membership.grants("manage_memory"):
        return None
    return [(MemoryScope.USER, principal.user.get_username()), (MemoryScope.AGENT, None), (MemoryScope.TENANT, None)]


def scopes_within(visible: list[ScopePair] | None, scope: str | None, subject: str | None) -> list[ScopePair] | None:
    """The `visible` pairs narrowed to a filter's `scope` (and `subject`, when given)."""
    if not scope:
        return visible
    if visible is None:
        return [(scope, subject or None)]
    return [(s, subject or v) for s, v in visible if s == scope and (not subject or v in (None, subject))]


def memory_search(*, tenant, query: str, scopes: list[ScopePair] | None = None, kind: str | None = None,
                  metadata: dict | None = None, since: dt.datetime | None = None, limit: int = 5) -> list[ScoredItem]:
    """The items that best answer `query`, best first: the full-text ranking (stemmed, stop words
    dropped) fused with the vector ranking when an embeddings model is configured, by reciprocal
    rank fusion: score = sum over rankings of weight / (AGENTOPS_MEMORY_RRF_K + rank)."""
    filters = Filters(tenant_id=tenant.pk, now=timezone.now(), scopes=scopes, kind=kind,
                      metadata=metadata or {}, since=since)
    depth = max(MIN_CANDIDATES, limit * CANDIDATES_PER_RESULT)
    rankings = [(settings.AGENTOPS_MEMORY_LEXICAL_WEIGHT, lexical_ranked(query_terms(query), filters, depth))]
    packed = query_vector(query)
    if packed is not None:
        vector = vector_ranked(unpack(packed), packed, settings.AGENTOPS_EMBEDDINGS_MODEL, filters, depth)
        rankings.append((settings.AGENTOPS_MEMORY_VECTOR_WEIGHT, vector))
    fused = fuse(rankings, settings.AGENTOPS_MEMORY_RRF_K)[:limit]
    items = MemoryItem.objects.in_bulk([pk for pk, _ in fused])
    return [ScoredItem(items[pk], score) for pk, score in fused if pk in items]


def fuse(rankings: list[tuple[float, list[tuple[int, float]]]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of (weight, [(id, score) best first]) rankings, best first."""
    fused: dict[int, float] = {}
    for weight, ranking in rankings:
        if weight <= 0:  # a ranking switched off adds no candidates
            continue
        for rank, (pk, _) in enumerate(ranking, start=1):
            fused[pk] = fused.get(pk, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], -pair[0]))


def memory_list(*, tenant, scopes: list[ScopePair] | None, scope: str | None = None, subject: str | None = None,
                kind: str | None = None, since: dt.datetime | None = None) -> KeysetQuery:
    """The visible items newest first, one keyset branch per visible scope pair (each served in
    order by the (tenant, scope, subject, created_at) index)."""
    now = timezone.now()
    pairs = scopes if scopes is not None else [(None, None)]
    branches = []
    for visible_scope, visible_subject in pairs:
        items = MemoryItem.objects.filter(tenant=tenant).exclude(expires_at__lte=now).select_related("created_by")
        if visible_scope is not None:
            items = items.filter(scope=visible_scope)
        if visible_subject is not None:
            items = items.filter(subject=visible_subject)
        if scope:
            items = items.filter(scope=scope)
        if subject is not None:
            items = items.filter(subject=subject)
        if kind:
            items = items.filter(kind=kind)
        if since:
            items = items.filter(updated_at__gte=since)
        branches.append(items)
    return KeysetQuery(tuple(branches))


def memory_get(*, tenant, scopes: list[ScopePair] | None, item_id: int) -> MemoryItem | None:
    return memory_items(tenant=tenant, scopes=scopes).select_related("created_by").filter(pk=item_id).first()
