"""Assertions on what the agent did: the tools it called (every tool step of the run, in order,
whatever its outcome; a call an approver rejected never became a tool step) and its step count."""

from __future__ import annotations

from collections import Counter

from tools.models import name_from_wire

from .base import Assertion, Grade, binary, register, require, string_list
from .json_checks import subset_mismatch

TRAJECTORY_MODES = ("exact", "in-order", "any-order")


def _names(outcome) -> list[str]:
    return [call.name for call in outcome.tool_calls]


def _wanted(value) -> list[str]:
    return [name_from_wire(name) for name in string_list(value)]


@register
class ToolCalled(Assertion):
    """`value`: a tool name, or `{"name": ..., "arguments": {...}}` where the arguments are a
    subset of some call's (json-subset's rule)."""

    name = "tool-called"

    def check(self, outcome, value, spec):
        wanted, arguments = (value, None) if isinstance(value, str) else (value["name"], value.get("arguments"))
        wanted = name_from_wire(wanted)
        calls = [call for call in outcome.tool_calls if call.name == wanted]
        if not calls:
            return binary(False, f"{wanted} was not called (calls: {_names(outcome) or 'none'})")
        if arguments is None:
            return binary(True, f"{wanted} was called {len(calls)} time(s)")
        mismatches = [subset_mismatch(arguments, call.arguments) for call in calls]
        if None in mismatches:
            return binary(True, f"{wanted} was called with the expected arguments")
        return binary(False, f"{wanted} was called, never with the expected arguments ({mismatches[0]})")

    def validate_value(self, value, spec):
        if isinstance(value, str):
            return
        require(isinstance(value, dict) and isinstance(value.get("name"), str),
                'value must be a tool name or {"name": ..., "arguments": {...}}')
        require(isinstance(value.get("arguments", {}), dict), "arguments must be an object")


@register
class Trajectory(Assertion):
    """`value`: the expected tool names, or `{"tools": [...], "mode": ...}`; `mode` (also at the
    assertion's top level) is `exact` (the same calls in the same order, the default), `in-order`
    (these calls in this order, others between allowed) or `any-order` (each of these calls,
    as many times as listed, in any order)."""

    name = "trajectory"

    def check(self, outcome, value, spec):
        wanted, mode = self._parts(value, spec)
        actual = _names(outcome)
        passed = {"exact": actual == wanted, "in-order": _in_order(wanted, actual),
                  "any-order": not (Counter(wanted) - Counter(actual))}[mode]
        verdict = "matches" if passed else "does not match"
        return binary(passed, f"calls {actual or 'none'} {verdict} {wanted} ({mode})")

    def validate_value(self, value, spec):
        self._parts(value, spec)

    @staticmethod
    def _parts(value, spec) -> tuple[list[str], str]:
        tools, mode = value, spec.get("mode", "exact")
        if isinstance(value, dict):
            tools, mode = value.get("tools"), value.get("mode", mode)
        require(mode in TRAJECTORY_MODES, f"mode must be one of {', '.join(TRAJECTORY_MODES)}")
        return _wanted(tools), mode


def _in_order(wanted: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(name in remaining for name in wanted)  # `in` consumes the iterator up to the match


@register
class ToolCallF1(Assertion):
    """F1 of the set of tools called against the expected set; passes at `threshold` (default 1)."""

    name = "tool-call-f1"

    def check(self, outcome, value, spec):
        wanted, actual = set(_wanted(value)), set(_names(outcome))
        both = len(wanted & actual)
        if not wanted and not actual:
            f1 = 1.0
        else:
            f1 = 2 * both / (len(wanted) + len(actual))
        threshold = spec.get("threshold", 1.0)
        return Grade(f1 >= threshold, f1, f"F1 {f1:.2f} (threshold {threshold}): called {sorted(actual)}, "
                                          f"expected {sorted(wanted)}")

    def validate_value(self, value, spec):
        string_list(value)


@register
class Steps(Assertion):
    """The run's number of steps (journal entries) is at most `value` (or `threshold`), or within
    `{"min": ..., "max": ...}`."""

    name = "steps"
    needs_value = False

    def check(self, outcome, value, spec):
        low, high = _bounds(value, spec)
        passed = outcome.steps >= low and (high is None or outcome.steps <= high)
        bound = f"at least {low}" + (f" and at most {high}" if high is not None else "")
        return binary(passed, f"{outcome.steps} steps, {'within' if passed else 'not'} {bound}")

    def validate_value(self, value, spec):
        _bounds(value, spec)


def _bounds(value, spec) -> tuple[int, int | None]:
    if isinstance(value, dict):
        low, high = value.get("min", 0), value.get("max")
    else:
        low, high = 0, value if value is not None else spec.get("threshold")
    for bound in (low, high):
        require(bound is None or (isinstance(bound, int) and not isinstance(bound, bool) and bound >= 0),
                "steps bounds must be whole numbers ≥ 0")
    require(high is not None or isinstance(value, dict), "give a maximum as value or threshold, or {min, max}")
    return low, high
