"""Text search over runs' input and output previews, through each database's full-text index
(migration 0005_run_search): never a scan of the runs' JSON.

Words are matched whole, case- and accent-insensitively; a run matches when each word is in its
input or its output preview.
"""

from __future__ import annotations

import re

from django.db import connections, router
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from .models import Run

MAX_SEARCH_WORDS = 8
_WORD = re.compile(r"\w+")

# The one condition per database; PostgreSQL's repeats the index's expression exactly.
_SQLITE = '"runs_run"."rowid" IN (SELECT rowid FROM runs_run_search WHERE runs_run_search MATCH %s)'
_POSTGRESQL = ("to_tsvector('simple'::regconfig, \"runs_run\".\"input_preview\" || ' ' || "
               "\"runs_run\".\"output_preview\") @@ to_tsquery('simple'::regconfig, %s)")


def search_words(text: str) -> list[str]:
    """The words of a search, as the index tokenizes them (letters and digits), at most MAX_SEARCH_WORDS."""
    return _WORD.findall(text.lower())[:MAX_SEARCH_WORDS]


def run_search_condition(words: list[str]) -> Q:
    """A filter on runs whose previews hold every one of `words` (from search_words)."""
    vendor = connections[router.db_for_read(Run)].vendor
    if vendor == "postgresql":
        return Q(RawSQL(_POSTGRESQL, [" & ".join(words)], output_field=BooleanField()))
    # Each word quoted: a string, never FTS5 query syntax; words side by side must all be there.
    return Q(RawSQL(_SQLITE, [" ".join(f'"{word}"' for word in words)], output_field=BooleanField()))
