"""Filling a tool's arguments from its JSON Schema, for the offline demo provider.

Each property takes the first value found, in this order:

1. a value read from the user's message according to the property's type, name and format,
2. the same key in a tool result of the current request (what the agent just looked up),
3. the same key in a tool result of an earlier request.

What the user wrote wins: "refund $12.50 on order #1042" refunds 12.50 even after a lookup
found 30, and "now refund order #2000" does not reuse the order looked up before; "refund order
#1042" takes the amount from the lookup. `fill_arguments` returns None when a required property
has no value: the agent does not call a tool it cannot fill.
"""

from __future__ import annotations

from . import demo_text as text

MISSING = object()

TEXT_FIELDS = text.words(
    "query q text question description body message content search prompt topic keywords note "
    "reason comment input request details instructions"
)
TITLE_FIELDS = text.words("subject title summary headline")
NAME_FIELDS = text.words("name city country location place destination company person customer product")
MONEY_FIELDS = text.words("amount price total cost sum value fee charge balance")
ID_WORDS = text.words("id identifier number ref reference")
EMAIL_FIELDS = text.words("email mail")
DATE_FIELDS = text.words("date day")


def fill_arguments(schema: dict, message: str, fresh: dict, earlier: dict) -> dict | None:
    """Arguments for a tool with parameters `schema`, or None if a required one cannot be filled.

    `fresh` and `earlier` map keys to values seen in tool results of this request and of earlier
    ones (latest first).
    """
    required = set(schema.get("required") or ())
    arguments = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = _value_for(name, prop if isinstance(prop, dict) else {}, message, fresh, earlier)
        if value is not MISSING:
            arguments[name] = value
        elif name in required:
            return None
    return arguments


def _value_for(name: str, prop: dict, message: str, fresh: dict, earlier: dict):
    for source in (
        lambda: _from_message(name, prop, message),
        lambda: _coerce(fresh.get(name, MISSING), prop),
        lambda: _coerce(earlier.get(name, MISSING), prop),
    ):
        value = source()
        if value is not MISSING:
            return value
    return MISSING


def _from_message(name: str, prop: dict, message: str):
    if "enum" in prop:
        return _enum_value(prop["enum"], message)
    kind = _type(prop)
    if kind in ("integer", "number"):
        return _first(_numbers_for(name, message), prop)
    if kind in ("string", None):
        return _first(_strings_for(name, prop, message), prop)
    return MISSING


def _numbers_for(name: str, message: str) -> list:
    field = text.words(name)
    if field & ID_WORDS:
        return _ids_for(field, message)
    if field & MONEY_FIELDS:
        return text.money(message) or text.plain_numbers(message)
    return text.plain_numbers(message)


def _strings_for(name: str, prop: dict, message: str) -> list:
    field = text.words(name)
    if prop.get("format") == "email" or field & EMAIL_FIELDS:
        return text.emails(message)
    if prop.get("format") == "date" or field & DATE_FIELDS:
        return text.dates(message)
    if field & ID_WORDS:
        return _ids_for(field, message)
    if field & TEXT_FIELDS or name.lower() == "q":
        return [message.strip()] if message.strip() else []
    if field & TITLE_FIELDS:
        return [text.first_sentence(message)] if message.strip() else []
    if field & NAME_FIELDS:
        return text.proper_nouns(message)
    return []


def _ids_for(field: set[str], message: str) -> list[str]:
    """Identifiers for an id field: `order_id` takes "order 1042" or a bare "#1042" but not
    "customer 77", which belongs to another field."""
    owners = {word for word in field if word in text.ID_NOUNS}
    if not owners:
        return [value for _, value in text.ids(message)]
    return [value for noun, value in text.ids(message) if noun in owners or noun not in text.ID_NOUNS]


def _enum_value(options: list, message: str):
    said = text.words(message)
    for option in options:
        if isinstance(option, str) and text.words(option) and text.words(option) <= said:
            return option
    return MISSING


def _first(values: list, prop: dict):
    for value in values:
        coerced = _coerce(value, prop)
        if coerced is not MISSING:
            return coerced
    return MISSING


def _coerce(value, prop: dict):
    """`value` as the property's JSON type, or MISSING when it cannot be."""
    if value is MISSING or value is None:
        return MISSING
    if "enum" in prop and value not in prop["enum"]:
        return MISSING
    kind = _type(prop)
    if kind == "string":
        return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else MISSING
    if kind in ("integer", "number"):
        return _as_number(value, integer=kind == "integer")
    if kind == "boolean":
        return value if isinstance(value, bool) else MISSING
    if kind == "array":
        return value if isinstance(value, list) else MISSING
    if kind == "object":
        return value if isinstance(value, dict) else MISSING
    return value


def _as_number(value, *, integer: bool):
    if isinstance(value, bool):
        return MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return MISSING
    if integer:
        return int(number) if number.is_integer() else MISSING
    return value if isinstance(value, (int, float)) else (int(number) if number.is_integer() else number)


def _type(prop: dict) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):  # ["string", "null"]
        kind = next((k for k in kind if k != "null"), None)
    return kind
