"""What an assertion looks at, what it answers, and the registry of assertion types by name.

An assertion is a dict in promptfoo's shape: `{"type", "value", "threshold", "weight", ...}`.
Each type is a small `Assertion` subclass registered under its promptfoo name; `not-<type>`
inverts any of them (passes when the assertion fails, score 1 - score).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import EvalError

NOT_PREFIX = "not-"

# promptfoo types that run code or call out of the platform: named so the refusal can say why.
REFUSED_TYPES = {
    "javascript": "it runs JavaScript", "python": "it runs Python code", "webhook": "it calls a URL",
    "ruby": "it runs Ruby code",
}


@dataclass(frozen=True)
class ToolCallMade:
    name: str
    arguments: dict
    status: str  # the tool step's status: completed, failed, ...


@dataclass(frozen=True)
class Outcome:
    """The ended run as assertions see it. `text` is the answer as text: the agent loop's
    `answer`, a string output as is, any other output as JSON."""

    output: Any
    text: str
    status: str
    error: dict | None = None
    tool_calls: tuple[ToolCallMade, ...] = ()
    steps: int = 0
    cost: float = 0.0
    latency_ms: float | None = None
    vars: dict = field(default_factory=dict)
    question: str = ""  # what the run was asked, for a judge
    tenant_id: int | None = None  # whose model secrets a judge may use


@dataclass(frozen=True)
class Grade:
    passed: bool
    score: float
    explanation: str
    extra: dict = field(default_factory=dict)  # what a type records besides (a judge's votes, ...)


class Assertion:
    """One assertion type. `check` grades an outcome against the assertion's `value` (and the
    whole spec for types with options); `validate_value` refuses a value the type cannot use."""

    name: ClassVar[str]
    needs_value: ClassVar[bool] = True

    def check(self, outcome: Outcome, value: Any, spec: dict) -> Grade:
        raise NotImplementedError

    def validate_value(self, value: Any, spec: dict) -> None:
        """Raise ValueError with a readable reason when `value` cannot be used."""


REGISTRY: dict[str, Assertion] = {}


def register(cls: type[Assertion]) -> type[Assertion]:
    REGISTRY[cls.name] = cls()
    return cls


def binary(passed: bool, explanation: str) -> Grade:
    return Grade(passed, 1.0 if passed else 0.0, explanation)


def assertion_for(type_name: str) -> tuple[Assertion, bool]:
    """(the assertion type, inverted) for `type_name`, `not-` forms included; raises EvalError."""
    if not isinstance(type_name, str) or not type_name:
        raise EvalError("invalid_assertion", "an assertion needs a `type`")
    base = type_name.removeprefix(NOT_PREFIX)
    if base in REFUSED_TYPES:
        raise EvalError("unsupported_assertion",
                        f"assertion type {type_name!r} is not supported: {REFUSED_TYPES[base]}, which evals here "
                        "never do. Use the built-in types (docs/evals.md).", details={"type": type_name})
    if base not in REGISTRY:
        raise EvalError("unknown_assertion", f"unknown assertion type {type_name!r}; known: "
                        + ", ".join(sorted(REGISTRY)), details={"type": type_name})
    return REGISTRY[base], type_name != base


NOT_JSON = object()


def answer_json(outcome: Outcome) -> Any:
    """The answer as JSON: a structured output itself, else its text parsed (NOT_JSON if it is not)."""
    if not isinstance(outcome.output, str) and not _is_agent_answer(outcome.output):
        return outcome.output
    try:
        return json.loads(outcome.text)
    except ValueError:
        return NOT_JSON


def _is_agent_answer(output: Any) -> bool:
    return isinstance(output, dict) and isinstance(output.get("answer"), str)


def answer_text(output: Any) -> str:
    """The text assertions read: the agent loop's `answer`, a string as is, anything else as JSON."""
    if _is_agent_answer(output):
        return output["answer"]
    if output is None:
        return ""
    return as_text(output)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def string_list(value: Any) -> list[str]:
    """A list of strings from a list, or from one string (a single item)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError("value must be a string or a list of strings")


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise ValueError(reason)


