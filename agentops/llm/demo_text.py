"""Reading values out of a user's message, for the offline demo provider.

Plain regular expressions, no models: good enough to pick an order id, an email or an amount out
of "Please refund $30 on order #1042 and email jane@example.com".
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    "a about all also am an and any are as at be been but by can could did do does for from get got "
    "had has have he her him his how i if in into is it its just let me my no not of on or our out "
    "please she should so some than that the their them then there these they this those to too up "
    "us was we were what when where which who why will with would you your".split()
)

# Nouns that name the thing an identifier belongs to ("order 1042", "ticket #7").
ID_NOUNS = frozenset(
    "order ticket invoice case customer account user booking reservation shipment payment "
    "subscription transaction product item".split()
)

_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"([a-z])([A-Z])")
_HASH_ID = re.compile(r"(?:\b([A-Za-z]+)\s+)?(?:(?:no\.?|number|id)\s*)?#\s?([\w-]*\d[\w-]*)")
_NOUN_ID = re.compile(
    r"\b(" + "|".join(sorted(ID_NOUNS)) + r")\b\s*(?:no\.?|number|id)?\s*:?\s*([A-Za-z]*\d[\w-]*)", re.IGNORECASE
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MONEY = re.compile(
    r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:dollars?|usd|eur|euros?|gbp|pounds?|bucks)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.#-])\d+(?:\.\d+)?(?![\w-])")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_PROPER = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def stem(word: str) -> str:
    """A crude stemmer, so that "refunds", "refunded" and "refund" compare equal."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2]:
                word = word[:-1]  # "cancelled" -> "cancel", "shipped" -> "ship"
            return word
    return word


def words(text: str) -> set[str]:
    """Stemmed content words of `text`; identifiers like `order_id` and `orderId` split into words."""
    text = _CAMEL.sub(r"\1 \2", text or "").lower()
    return {stem(word) for word in _WORD.findall(text) if word not in STOPWORDS and len(word) > 1}


def ids(text: str) -> list[tuple[str | None, str]]:
    """Identifiers with the noun before them, in order: "order #1042" -> ("order", "1042")."""
    found = []
    for match in _NOUN_ID.finditer(text):
        found.append((match.start(), match.group(1).lower(), match.group(2)))
    for match in _HASH_ID.finditer(text):
        if not any(value == match.group(2) for _, _, value in found):
            noun = match.group(1).lower() if match.group(1) else None
            found.append((match.start(), noun, match.group(2)))
    return [(noun, value) for _, noun, value in sorted(found)]


def emails(text: str) -> list[str]:
    return _EMAIL.findall(text)


def money(text: str) -> list[int | float]:
    """Amounts written as money: "$30", "30.50 USD", "30 dollars"."""
    return [_to_number((m.group(1) or m.group(2)).replace(",", "")) for m in _MONEY.finditer(text)]


def plain_numbers(text: str) -> list[int | float]:
    """Numbers that are neither identifiers nor money."""
    taken = {value for _, value in ids(text)}
    return [_to_number(n) for n in _NUMBER.findall(_MONEY.sub(" ", text)) if n not in taken]


def dates(text: str) -> list[str]:
    return _DATE.findall(text)


def proper_nouns(text: str) -> list[str]:
    """Capitalised phrases ("Paris", "Jane Doe"), leaving out the capital that starts a sentence."""
    found = []
    for match in _PROPER.finditer(text):
        phrase = match.group(0).split()
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:":
            phrase = phrase[1:]
        if phrase and phrase != ["I"]:
            found.append(" ".join(phrase))
    return found


def first_sentence(text: str, limit: int = 80) -> str:
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _to_number(text: str) -> int | float:
    return float(text) if "." in text else int(text)
