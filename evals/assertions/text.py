"""Assertions on the answer's text, as promptfoo defines them."""

from __future__ import annotations

import re

from .base import Assertion, answer_json, binary, register, require, string_list


@register
class Equals(Assertion):
    """The answer is exactly `value` (a JSON value is compared with the answer parsed as JSON)."""

    name = "equals"

    def check(self, outcome, value, spec):
        if isinstance(value, str):
            return binary(outcome.text == value, f"answer {'equals' if outcome.text == value else 'differs from'} "
                          f"{value!r}")
        from_json = answer_json(outcome)
        return binary(from_json == value, "answer's JSON " + ("equals" if from_json == value else "differs from")
                      + " the expected value")


class _TextCheck(Assertion):
    ignore_case = False

    def texts(self, outcome, value) -> tuple[str, list[str]]:
        text, items = outcome.text, string_list(value)
        if self.ignore_case:
            return text.lower(), [item.lower() for item in items]
        return text, items

    def validate_value(self, value, spec):
        string_list(value)


@register
class Contains(_TextCheck):
    name = "contains"

    def check(self, outcome, value, spec):
        text, (needle, *_) = self.texts(outcome, value)
        return binary(needle in text, f"answer {'contains' if needle in text else 'does not contain'} {value!r}")

    def validate_value(self, value, spec):
        require(isinstance(value, str), "value must be a string")


@register
class IContains(Contains):
    name = "icontains"
    ignore_case = True


@register
class ContainsAny(_TextCheck):
    name = "contains-any"

    def check(self, outcome, value, spec):
        text, needles = self.texts(outcome, value)
        found = [needle for needle in needles if needle in text]
        return binary(bool(found), f"answer contains {found!r}" if found else f"answer contains none of {needles!r}")


@register
class IContainsAny(ContainsAny):
    name = "icontains-any"
    ignore_case = True


@register
class ContainsAll(_TextCheck):
    name = "contains-all"

    def check(self, outcome, value, spec):
        text, needles = self.texts(outcome, value)
        missing = [needle for needle in needles if needle not in text]
        return binary(not missing, f"answer lacks {missing!r}" if missing else "answer contains all of them")


@register
class IContainsAll(ContainsAll):
    name = "icontains-all"
    ignore_case = True


@register
class StartsWith(Assertion):
    name = "starts-with"

    def check(self, outcome, value, spec):
        passed = outcome.text.startswith(value)
        return binary(passed, f"answer {'starts' if passed else 'does not start'} with {value!r}")

    def validate_value(self, value, spec):
        require(isinstance(value, str), "value must be a string")


@register
class Regex(Assertion):
    """`value` matches somewhere in the answer (Python `re.search`)."""

    name = "regex"

    def check(self, outcome, value, spec):
        match = re.search(value, outcome.text)
        return binary(match is not None,
                      f"answer matches /{value}/ at {match.group(0)!r}" if match else f"answer does not match /{value}/")

    def validate_value(self, value, spec):
        require(isinstance(value, str), "value must be a regular expression")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
