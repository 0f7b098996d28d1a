"""Assertions on JSON in the answer: is-json, contains-json (both optionally against a JSON
Schema given as `value`) and json-subset (promptfoo has no such type; the name says what it does)."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator, SchemaError

from .base import NOT_JSON, Assertion, answer_json, binary, register, require


def _schema_errors(schema, instance) -> list[str]:
    errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda error: list(error.path))
    return [f"{'/'.join(map(str, error.path)) or 'root'}: {error.message}" for error in errors[:5]]


class _JsonWithSchema(Assertion):
    needs_value = False

    def validate_value(self, value, spec):
        if value in (None, ""):
            return
        require(isinstance(value, dict), "value must be a JSON Schema (an object) or empty")
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None

    def graded(self, found, value, what: str):
        if found is NOT_JSON:
            return binary(False, f"{what} no valid JSON")
        if not value:
            return binary(True, f"{what} valid JSON")
        errors = _schema_errors(value, found)
        return binary(not errors, "; ".join(errors) if errors else f"{what} JSON matching the schema")


@register
class IsJson(_JsonWithSchema):
    name = "is-json"

    def check(self, outcome, value, spec):
        return self.graded(answer_json(outcome), value, "answer is")


@register
class ContainsJson(_JsonWithSchema):
    """Some JSON object or array inside the answer's text (the first that parses and, with a
    schema, the first that matches it)."""

    name = "contains-json"

    def check(self, outcome, value, spec):
        candidates = list(embedded_json(outcome.text))
        if not candidates:
            return binary(False, "answer contains no valid JSON")
        for found in candidates:
            grade = self.graded(found, value, "answer contains")
            if grade.passed:
                return grade
        return grade


def embedded_json(text: str):
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                yield decoder.raw_decode(text, start)[0]
            except ValueError:
                continue


@register
class JsonSubset(Assertion):
    """The answer's JSON holds `value`: every key of an expected object with a matching value
    (recursively), an expected list item for item, any other value equal."""

    name = "json-subset"

    def check(self, outcome, value, spec):
        found = answer_json(outcome)
        if found is NOT_JSON:
            return binary(False, "answer is not JSON")
        mismatch = subset_mismatch(value, found)
        return binary(mismatch is None, mismatch or "answer's JSON holds the expected subset")


def subset_mismatch(expected, actual, where: str = "") -> str | None:
    """Where `actual` does not hold `expected` (see JsonSubset), or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where or 'root'}: expected an object"
        for key, item in expected.items():
            if key not in actual:
                return f"{where}{key}: missing"
            mismatch = subset_mismatch(item, actual[key], f"{where}{key}.")
            if mismatch:
                return mismatch
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where or 'root'}: expected a list of {len(expected)}"
        for index, (item, other) in enumerate(zip(expected, actual)):
            mismatch = subset_mismatch(item, other, f"{where}{index}.")
            if mismatch:
                return mismatch
        return None
    return None if expected == actual else f"{where.rstrip('.') or 'root'}: {actual!r} is not {expected!r}"
