"""Checking a case's assertions against an outcome, and promptfoo's rule for the case:

- each assertion has a score in [0, 1] and passes or fails; `weight` (default 1) weighs its score;
- the case's score is the weighted mean of its assertions' scores (an assertion of weight 0 is
  reported and takes no part);
- without a case `threshold` the case passes when every weighted assertion passes; with one, when
  its score reaches the threshold. A case whose run did not succeed fails whatever its assertions
  say; one without assertions passes when its run succeeded.
"""

from __future__ import annotations

import logging

from ..errors import EvalError
from ..templating import render
from .base import Outcome, assertion_for

logger = logging.getLogger(__name__)

SPEC_KEYS = {"type", "value", "threshold", "weight", "metric", "mode", "k", "provider"}


def assertion_validate(spec, *, where: str = "assertion") -> dict:
    """`spec` checked (known type, known keys, a value the type can use); raises EvalError."""
    if not isinstance(spec, dict):
        raise EvalError("invalid_assertion", f"{where}: an assertion is an object with a `type`")
    try:
        assertion, _ = assertion_for(spec.get("type"))
    except EvalError as error:
        raise EvalError(error.code, f"{where}: {error.message}", details=error.details) from None
    unknown = set(spec) - SPEC_KEYS
    problem = f"unknown keys {sorted(unknown)}" if unknown else None
    if problem is None:
        problem = _value_problem(assertion, spec)
    if problem:
        raise EvalError("invalid_assertion", f"{where} ({spec['type']}): {problem}",
                        details={"type": spec["type"]})
    return spec


def _value_problem(assertion, spec) -> str | None:
    weight = spec.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        return "weight must be a number ≥ 0"
    if assertion.needs_value and spec.get("value") in (None, "", [], {}):
        return "it needs a value"
    try:
        assertion.validate_value(spec.get("value"), spec)
    except ValueError as exc:
        return str(exc)
    return None


def assertions_validate(specs, *, where: str = "assertions") -> list[dict]:
    if not isinstance(specs, list):
        raise EvalError("invalid_assertion", f"{where} must be a list")
    return [assertion_validate(spec, where=f"{where}[{index}]") for index, spec in enumerate(specs)]


def assertion_grade(spec: dict, outcome: Outcome) -> dict:
    """One assertion's result: type, passed, score, weight, explanation (and what its type adds).
    An assertion that raises fails with the error as its explanation: one bad check never stops
    the others."""
    assertion, inverted = assertion_for(spec["type"])
    value = render(spec.get("value"), outcome.vars)
    try:
        grade = assertion.check(outcome, value, spec)
    except Exception as exc:  # a check's bug or a value it could not use: this assertion fails
        logger.exception("assertion %s raised", spec["type"])
        return {"type": spec["type"], "passed": False, "score": 0.0, "weight": spec.get("weight", 1),
                "explanation": f"the check raised {type(exc).__name__}: {exc}"}
    passed, score = grade.passed, grade.score
    if inverted:
        passed, score = not passed, 1.0 - score
    return {"type": spec["type"], "passed": passed, "score": round(score, 4), "weight": spec.get("weight", 1),
            "explanation": ("NOT: " if inverted else "") + grade.explanation, **grade.extra}


def case_grade(results: list[dict], *, threshold: float | None, run_succeeded: bool) -> tuple[bool, float]:
    """(passed, score) of a case from its assertions' results (see the module docstring)."""
    weighted = [result for result in results if result["weight"] > 0]
    if not weighted:
        return run_succeeded, 1.0 if run_succeeded else 0.0
    total = sum(result["weight"] for result in weighted)
    score = round(sum(result["score"] * result["weight"] for result in weighted) / total, 4)
    if not run_succeeded:
        return False, score
    if threshold is not None:
        return score >= threshold, score
    return all(result["passed"] for result in weighted), score
