"""Budgets, as promptfoo's `cost` (dollars) and `latency` (milliseconds): the run stayed within
`threshold` (or `value`)."""

from __future__ import annotations

from .base import Assertion, binary, register, require


class _Budget(Assertion):
    needs_value = False
    unit = ""

    def measure(self, outcome) -> float | None:
        raise NotImplementedError

    def check(self, outcome, value, spec):
        limit = _limit(value, spec)
        measured = self.measure(outcome)
        if measured is None:
            return binary(False, f"no {self.name} measured")
        passed = measured <= limit
        return binary(passed, f"{self.name} {measured:g}{self.unit} {'≤' if passed else '>'} {limit:g}{self.unit}")

    def validate_value(self, value, spec):
        _limit(value, spec)


def _limit(value, spec) -> float:
    limit = spec.get("threshold", value)
    require(isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0,
            "give the limit as a number ≥ 0 in threshold (or value)")
    return float(limit)


@register
class Cost(_Budget):
    name = "cost"
    unit = " USD"

    def measure(self, outcome):
        return outcome.cost


@register
class Latency(_Budget):
    name = "latency"
    unit = " ms"

    def measure(self, outcome):
        return outcome.latency_ms
