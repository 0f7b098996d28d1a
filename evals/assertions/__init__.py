"""Assertion types, registered by name on import (see base.py for the registry)."""

from . import budgets, json_checks, rubric, text, trajectory  # noqa: F401  (each module registers its types)
from .base import REFUSED_TYPES, REGISTRY, Outcome, ToolCallMade, answer_text
from .scoring import assertion_grade, assertion_validate, assertions_validate, case_grade

__all__ = [
    "REFUSED_TYPES", "REGISTRY", "Outcome", "ToolCallMade", "answer_text", "assertion_grade", "assertion_validate",
    "assertions_validate", "case_grade",
]
