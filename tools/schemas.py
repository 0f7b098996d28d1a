"""JSON Schema checks shared by the admin, the API and the gateway.

Schemas are checked against their meta-schema (the draft named by `$schema`, else 2020-12), and
instances are validated with format checking on. Error messages are written for a model or a
person to read: where the problem is, then what it is.
"""

from __future__ import annotations

import json
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker, exceptions, validators

MAX_MESSAGES = 5
MAX_MESSAGE_LENGTH = 300


def _validator_class(schema: dict):
    return validators.validator_for(schema, default=Draft202012Validator)


def schema_errors(schema) -> list[str]:
    """Why `schema` is not a valid JSON Schema; empty when it is."""
    if not isinstance(schema, dict):
        return ["A schema must be a JSON object."]
    try:
        _validator_class(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return [f"Not a valid JSON Schema: {_where(exc.absolute_path, 'schema')}: {_short(exc.message)}"]
    return []


def object_schema_errors(schema) -> list[str]:
    """Like `schema_errors`, and the schema must describe a JSON object (tool arguments are one)."""
    errors = schema_errors(schema)
    if not errors and schema.get("type") != "object":
        errors.append('The arguments schema must have "type": "object".')
    return errors


@lru_cache(maxsize=256)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    return _validator_class(schema)(schema, format_checker=FormatChecker())


def instance_errors(schema: dict, instance, *, root: str = "arguments") -> list[str]:
    """Readable reasons `instance` does not match `schema`, most relevant first; empty when it does.

    Each reads "<where>: <what>", e.g. "amount: -5 is less than the minimum of 0"; `root` names
    the top level ("arguments: 'order_id' is a required property")."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(instance), key=exceptions.relevance)
    messages = [f"{_where(error.absolute_path, root)}: {_short(error.message)}" for error in errors]
    if len(messages) > MAX_MESSAGES:
        messages = messages[:MAX_MESSAGES] + [f"... and {len(messages) - MAX_MESSAGES} more"]
    return messages


def _where(path, root: str) -> str:
    """`items[0].quantity` for a path deque; `root` for the top."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or root


def _short(message: str) -> str:
    # jsonschema quotes the whole offending instance, which can be a page of JSON.
    return message if len(message) <= MAX_MESSAGE_LENGTH else message[: MAX_MESSAGE_LENGTH - 1] + "…"


# A vendor keyword on an argument's schema: `"x-summary": true` marks the arguments an approver
# should see at a glance (amount, order, customer) in lists such as the approval inbox.
SUMMARY_KEYWORD = "x-summary"
SCALAR_TYPES = {"string", "number", "integer", "boolean", "null"}


def summary_argument_names(schema) -> list[str]:
    """The arguments `schema` marks with "x-summary": true, in the schema's order."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    return [name for name, spec in properties.items() if isinstance(spec, dict) and spec.get(SUMMARY_KEYWORD) is True]


def summary_keyword_errors(schema) -> list[str]:
    """Misuses of "x-summary": not a boolean, not on a top-level argument, or on an object or array."""
    if not isinstance(schema, dict):
        return []
    errors = [f'"{SUMMARY_KEYWORD}" belongs on an argument under "properties", not on the schema itself.'] \
        if SUMMARY_KEYWORD in schema else []
    properties = schema.get("properties")
    for name, spec in (properties.items() if isinstance(properties, dict) else ()):
        if not isinstance(spec, dict) or SUMMARY_KEYWORD not in spec:
            continue
        if not isinstance(spec[SUMMARY_KEYWORD], bool):
            errors.append(f'{name}: "{SUMMARY_KEYWORD}" must be true or false.')
        elif spec[SUMMARY_KEYWORD] and not _scalar_type(spec.get("type")):
            errors.append(f'{name}: only a string, number, integer or boolean argument can be a summary.')
    return errors


def _scalar_type(kind) -> bool:
    if kind is None:
        return True  # untyped (an enum, say): shown as written
    kinds = kind if isinstance(kind, list) else [kind]
    return all(isinstance(k, str) for k in kinds) and set(kinds) <= SCALAR_TYPES
