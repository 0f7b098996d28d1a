"""Keyset (cursor) pagination: a page costs the same at the 100,000th row as at the first.

A list is ordered by a key of fields (`("created_at", "pk")`: a time, then a unique tie-breaker),
newest first or oldest first, that an index serves in order. A page is the rows after (or before) a boundary row's
key, found with a range on that index and a LIMIT: no OFFSET to skip, no COUNT to take. The
boundary travels as an opaque cursor, signed so that a tampered one is refused (`invalid_cursor`)
rather than turned into a query.

A list may be the union of several *branches*, each an ordered queryset (say, the runs a user
started and the runs started on their behalf: an OR over two columns that no single index serves
in order). Each branch reads at most one page past the boundary and the pages are merged.
"""

from __future__ import annotations

import datetime as dt
import heapq
import uuid
from dataclasses import dataclass

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from .errors import CodedError

CURSOR_SALT = "agentops.keyset"


class InvalidCursor(CodedError):
    def __init__(self):
        super().__init__("invalid_cursor", "The cursor is not one this list gave out: start again from the first page.")


@dataclass(frozen=True)
class Cursor:
    """A boundary row's key and which side of it the page lies: `before` for the rows ahead of it
    in the list's order (a `previous` page)."""

    key: tuple
    before: bool = False

    def encode(self) -> str:
        return signing.dumps([[_plain(value) for value in self.key], self.before], salt=CURSOR_SALT)


def _plain(value):
    """A key's value as the cursor carries it (JSON)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


@dataclass(frozen=True)
class Page:
    items: list
    next: Cursor | None  # the rows after these in the list's order
    previous: Cursor | None  # the rows before these


@dataclass(frozen=True)
class KeysetQuery:
    """Rows of one or more `branches` by `fields`: newest first (each field descending), or oldest
    first with `newest_first=False`."""

    branches: tuple[QuerySet, ...]
    fields: tuple[str, ...] = ("created_at", "pk")
    newest_first: bool = True

    def cursor(self, text: str) -> Cursor:
        """The cursor `text` stands for; InvalidCursor if this list did not give it out."""
        fields = [self.model._meta.pk if name == "pk" else self.model._meta.get_field(name) for name in self.fields]
        try:
            key, before = signing.loads(text, salt=CURSOR_SALT)
            if len(key) != len(fields) or not isinstance(before, bool):
                raise ValueError(key)
            return Cursor(tuple(field.to_python(value) for field, value in zip(fields, key)), before)
        except (signing.BadSignature, ValueError, TypeError, ValidationError):
            raise InvalidCursor() from None

    @property
    def model(self):
        return self.branches[0].model

    def page(self, *, cursor: Cursor | None = None, size: int) -> Page:
        """One page: `size` rows past the cursor (from the list's start without one). Each branch
        reads `size + 1` rows; the extra one says whether there is more. An empty page past either
        end still links back to where its cursor came from."""
        before = cursor is not None and cursor.before
        rows = self._merged(self.reads(cursor=cursor, size=size), descending=self._descending(before))[: size + 1]
        more, rows = len(rows) > size, rows[:size]
        if not rows:
            return Page([], Cursor(cursor.key) if before else None,
                        Cursor(cursor.key, before=True) if cursor is not None and not before else None)
        if before:
            rows.reverse()
        # Came from a `previous` cursor: there are rows after this page; from `next`: rows before.
        has_next = True if before else more
        has_previous = more if before else cursor is not None
        return Page(rows, Cursor(self._key(rows[-1])) if has_next else None,
                    Cursor(self._key(rows[0]), before=True) if has_previous else None)

    def _descending(self, before: bool) -> bool:
        """Whether a page's read runs down the index: forward in a newest-first list, or back
        (`before`) in an oldest-first one."""
        return self.newest_first != before

    def reads(self, *, cursor: Cursor | None = None, size: int) -> list[QuerySet]:
        """The query of each branch for a page: `size + 1` rows past the cursor, in the page's order."""
        descending = self._descending(cursor is not None and cursor.before)
        order = [f"-{field}" if descending else field for field in self.fields]
        return [(branch.filter(self._beyond(cursor)) if cursor else branch).order_by(*order)[: size + 1]
                for branch in self.branches]

    def _beyond(self, cursor: Cursor) -> Q:
        """Rows after the boundary in the page's direction, as `a <= x AND (a < x OR b < y)`: the
        first term is a plain range on the index's leading ordered column, which a planner uses."""
        first, rest = self.fields[0], self.fields[1:]
        cmp, cmp_or_equal = ("lt", "lte") if self._descending(cursor.before) else ("gt", "gte")
        strictly = Q(**{f"{first}__{cmp}": cursor.key[0]})
        tie = Q(**{first: cursor.key[0]})
        for index, field in enumerate(rest, start=1):
            strictly |= tie & Q(**{f"{field}__{cmp}": cursor.key[index]})
            tie &= Q(**{field: cursor.key[index]})
        return Q(**{f"{first}__{cmp_or_equal}": cursor.key[0]}) & strictly

    def _merged(self, reads, *, descending: bool) -> list:
        if len(reads) == 1:
            return list(reads[0])
        seen, merged = set(), []
        for row in heapq.merge(*reads, key=self._key, reverse=descending):
            if row.pk not in seen:  # a row in two branches (started by and for the same user)
                seen.add(row.pk)
                merged.append(row)
        return merged

    def _key(self, row) -> tuple:
        return tuple(getattr(row, field) for field in self.fields)
