"""Keyset (cursor) pagination: a page costs the same at the 100,000th row as at the first.

A list is ordered newest first by a key of fields (`("created_at", "pk")`: a time, then a unique
tie-breaker) that an index serves in order. A page is the rows after (or before) a boundary row's
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
    """A boundary row's key and which side of it the page lies: `before` for newer rows."""

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
    next: Cursor | None  # older rows
    previous: Cursor | None  # newer rows


@dataclass(frozen=True)
class KeysetQuery:
    """Rows of one or more `branches`, newest first by `fields` (each field descending)."""

    branches: tuple[QuerySet, ...]
    fields: tuple[str, ...] = ("created_at", "pk")

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
        """One page: `size` rows past the cursor (from the newest without one). Each branch reads
        `size + 1` rows; the extra one says whether there is more."""
        before = cursor is not None and cursor.before
        rows = self._merged(self.reads(cursor=cursor, size=size), newest_first=not before)[: size + 1]
        more, rows = len(rows) > size, rows[:size]
        if not rows:
            return Page([], None, None)
        if before:
            rows.reverse()
        # Came from newer rows (a `next` cursor): there are newer ones; from older: older ones.
        older = True if before else more
        newer = more if before else cursor is not None
        return Page(rows, Cursor(self._key(rows[-1])) if older else None,
                    Cursor(self._key(rows[0]), before=True) if newer else None)

    def reads(self, *, cursor: Cursor | None = None, size: int) -> list[QuerySet]:
        """The query of each branch for a page: `size + 1` rows past the cursor, in the page's order."""
        before = cursor is not None and cursor.before
        order = [field if before else f"-{field}" for field in self.fields]
        return [(branch.filter(self._beyond(cursor)) if cursor else branch).order_by(*order)[: size + 1]
                for branch in self.branches]

    def _beyond(self, cursor: Cursor) -> Q:
        """Rows after the boundary in the page's direction, as `a <= x AND (a < x OR b < y)`: the
        first term is a plain range on the index's leading ordered column, which a planner uses."""
        first, rest = self.fields[0], self.fields[1:]
        cmp, cmp_or_equal = ("gt", "gte") if cursor.before else ("lt", "lte")
        strictly = Q(**{f"{first}__{cmp}": cursor.key[0]})
        tie = Q(**{first: cursor.key[0]})
        for index, field in enumerate(rest, start=1):
            strictly |= tie & Q(**{f"{field}__{cmp}": cursor.key[index]})
            tie &= Q(**{field: cursor.key[index]})
        return Q(**{f"{first}__{cmp_or_equal}": cursor.key[0]}) & strictly

    def _merged(self, reads, *, newest_first: bool) -> list:
        if len(reads) == 1:
            return list(reads[0])
        seen, merged = set(), []
        for row in heapq.merge(*reads, key=self._key, reverse=newest_first):
            if row.pk not in seen:  # a row in two branches (started by and for the same user)
                seen.add(row.pk)
                merged.append(row)
        return merged

    def _key(self, row) -> tuple:
        return tuple(getattr(row, field) for field in self.fields)
