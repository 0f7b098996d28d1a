"""Keyset pagination of approval lists, for the inbox page and the API.

A page starts after (or ends before) a position `(created_at, id)`, the lists' order, which an
index serves for every filter (see `ApprovalRequest.Meta.indexes`): a page costs the same whether
it is the first or the thousandth, and a request decided meanwhile shifts nothing. Cursors are
signed, so a client can keep and send them back but not make one up (`invalid_cursor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Q

from agentops.errors import CodedError

CURSOR_SALT = "approvals.cursor"
FORWARD, BACKWARD = "n", "p"


class InvalidCursor(CodedError):
    def __init__(self):
        super().__init__("invalid_cursor", "This cursor was not issued by this server or was changed; "
                                           "start again from the first page.")


@dataclass(frozen=True)
class Page:
    items: list
    next: str | None  # the cursor of the page after this one, None on the last
    previous: str | None  # of the page before, None on the first


def page_get(queryset, *, cursor: str | None, size: int) -> Page:
    """The page of `queryset` (ordered here by created_at, id) that `cursor` names; the first without one.

    One query (plus the queryset's prefetches). An empty page past the end still links back.
    """
    direction, position = _cursor_decode(cursor) if cursor else (FORWARD, None)
    if direction == FORWARD:
        rows = list(_after(queryset, position).order_by("created_at", "pk")[: size + 1])
        items, more = rows[:size], len(rows) > size
        first = _position(items[0]) if items else position
        return Page(items=items, next=_cursor(FORWARD, _position(items[-1])) if more else None,
                    previous=_cursor(BACKWARD, first) if position else None)
    rows = list(_before(queryset, position).order_by("-created_at", "-pk")[: size + 1])
    items, more = rows[:size][::-1], len(rows) > size
    last = _position(items[-1]) if items else position
    return Page(items=items, next=_cursor(FORWARD, last),
                previous=_cursor(BACKWARD, _position(items[0])) if more else None)


def _after(queryset, position):
    if position is None:
        return queryset
    created_at, pk = position
    # The range on created_at alone lets the index seek; the OR settles ties on the id.
    return queryset.filter(created_at__gte=created_at).filter(Q(created_at__gt=created_at) | Q(pk__gt=pk))


def _before(queryset, position):
    created_at, pk = position
    return queryset.filter(created_at__lte=created_at).filter(Q(created_at__lt=created_at) | Q(pk__lt=pk))


def _position(item) -> tuple:
    return item.created_at, item.pk


def _cursor(direction: str, position: tuple) -> str:
    created_at, pk = position
    return signing.dumps([direction, created_at.isoformat(), pk], salt=CURSOR_SALT, compress=False)


def _cursor_decode(cursor: str):
    try:
        direction, created_at, pk = signing.loads(cursor, salt=CURSOR_SALT)
        if direction not in (FORWARD, BACKWARD) or not isinstance(pk, int):
            raise ValueError(direction)
        return direction, (datetime.fromisoformat(created_at), pk)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidCursor() from None
