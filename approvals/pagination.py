"""Keyset pagination of approval lists, for the inbox page and the API: `agentops.keyset`,
oldest first.

A page starts after (or ends before) a position `(created_at, id)`, the lists' order, which an
index serves for every filter (see `ApprovalRequest.Meta.indexes`): a page costs the same whether
it is the first or the thousandth, and a request decided meanwhile shifts nothing. Cursors are
signed, so a client can keep and send them back but not make one up (`invalid_cursor`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentops.keyset import Cursor, InvalidCursor, KeysetQuery

__all__ = ["InvalidCursor", "Page", "page_get"]


@dataclass(frozen=True)
class Page:
    items: list
    next: str | None  # the cursor of the page after this one, None on the last
    previous: str | None  # of the page before, None on the first


def page_get(queryset, *, cursor: str | None, size: int) -> Page:
    """The page of `queryset` (ordered here by created_at, id) that `cursor` names; the first
    without one. One query (plus the queryset's prefetches). InvalidCursor for a forged cursor."""
    query = KeysetQuery((queryset,), newest_first=False)
    page = query.page(cursor=query.cursor(cursor) if cursor else None, size=size)
    return Page(page.items, _text(page.next), _text(page.previous))


def _text(cursor: Cursor | None) -> str | None:
    return cursor.encode() if cursor else None
