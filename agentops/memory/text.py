"""The words of a memory item or a query: what is hashed for dedupe and what is searched."""

from __future__ import annotations

import hashlib
import re

# Letters and digits only: no character of either database's query syntax survives.
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 24

# English function words: FTS5 has no stop-word list, and a query word such as "the" would match
# nearly every item. PostgreSQL's 'english' configuration drops the same kind of words itself.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves tell know remember recall please
""".split())


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def normalised(text: str) -> str:
    """Case, spacing and punctuation do not make two items different."""
    return " ".join(words(text))


def content_hash(text: str) -> str:
    return hashlib.sha256(normalised(text).encode()).hexdigest()


def query_terms(text: str) -> list[str]:
    """The searchable words of a query: no stop words, each once, at most MAX_QUERY_TERMS."""
    return list(dict.fromkeys(word for word in words(text) if word not in STOP_WORDS))[:MAX_QUERY_TERMS]


def jaccard(first: str, second: str) -> float:
    """Token-set overlap of two texts' content words (1.0: the same words, in any order)."""
    a = {word for word in words(first) if word not in STOP_WORDS}
    b = {word for word in words(second) if word not in STOP_WORDS}
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
