"""Approval policies: when a tool call needs a human, how risky it is, and who decides.

A condition is a small expression over the call's arguments, e.g. `amount > 100` or
`country not in ["US", "CA"] and amount >= 20`. It is evaluated with `simpleeval`, never `eval`,
and checked before it is stored: only comparisons, boolean and arithmetic operators, literals,
argument names, subscripts with a literal key and the functions in `FUNCTIONS` are accepted.
Attribute access, other calls, lambdas and comprehensions are refused, so a stored condition
cannot reach anything but the arguments.

A condition that cannot be evaluated for a call (a missing argument, a type mismatch) requires
approval: when in doubt, a human looks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable

from simpleeval import EvalWithCompoundTypes

from tools.models import ApprovalPolicy, Effect, Risk, Tool

FUNCTIONS = {"len": len, "abs": abs, "min": min, "max": max, "round": round,
             "lower": lambda value: str(value).lower()}
MAX_CONDITION_LENGTH = 500

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE,
    ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.Mod, ast.FloorDiv, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Name, ast.Load,
    ast.Constant, ast.List, ast.Tuple, ast.Subscript, ast.IfExp, ast.Call,
)
_RISKS = (Risk.LOW, Risk.MEDIUM, Risk.HIGH)
_EFFECT_RISK = {Effect.READ: 0, Effect.WRITE: 1, Effect.DESTRUCTIVE: 2}


class ConditionError(ValueError):
    """A condition that is not allowed, or that cannot be evaluated for given arguments."""


@dataclass(frozen=True)
class ApprovalNeed:
    """What the approvals app needs to open a request for a gated call (it stores these on it)."""

    risk: str  # a Risk
    reason: str  # e.g. "billing.refund needs approval when amount > 50 (amount = 120)"
    required_approvals: int
    approver_group_id: int | None
    escalation_group_id: int | None
    expires_in_seconds: int | None
    expiry_action: str  # an ExpiryAction


def condition_check(expression: str, *, names: Iterable[str] | None = None) -> None:
    """Raise ConditionError unless `expression` is an allowed condition.

    With `names` (the argument names of the tool's schema), a name outside them is refused too,
    which catches typos such as `amout > 50` when the condition is saved rather than when it fails.
    """
    if not expression.strip():
        raise ConditionError("The condition is empty.")
    if len(expression) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"The condition is longer than {MAX_CONDITION_LENGTH} characters.")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"The condition is not a valid expression: {exc.msg}.") from None
    known = set(names) if names is not None else None
    for node in ast.walk(tree):
        _check_node(node, known)


def _check_node(node: ast.AST, known: set[str] | None) -> None:
    if isinstance(node, ast.Attribute):
        raise ConditionError("Attribute access (a.b) is not allowed in a condition.")
    if not isinstance(node, _ALLOWED_NODES):
        raise ConditionError(f"{type(node).__name__} is not allowed in a condition.")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ConditionError(f"Only these functions may be called in a condition: {allowed}.")
    elif isinstance(node, ast.Name) and node.id not in FUNCTIONS:
        if node.id.startswith("_"):
            raise ConditionError(f"The name {node.id!r} is not allowed in a condition.")
        if known is not None and node.id not in known:
            choices = ", ".join(sorted(known)) or "none"
            raise ConditionError(f"The condition uses {node.id!r}, which is not an argument (arguments: {choices}).")
    elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
        raise ConditionError("Subscripts in a condition must be literal keys, e.g. customer['country'].")
    elif isinstance(node, ast.Constant) and not isinstance(node.value, (str, int, float, bool, type(None))):
        raise ConditionError("Only numbers, strings, True, False and None may appear as literals.")


def condition_holds(expression: str, arguments: dict, *, names: Iterable[str] = ()) -> bool:
    """Whether the condition is true for `arguments`; raises ConditionError if it cannot be evaluated.

    `names` are the schema's argument names: those the call left out evaluate to None.
    """
    condition_check(expression)  # evaluate only what would have been accepted on save
    values = {name: None for name in names}
    values.update(arguments)
    evaluator = EvalWithCompoundTypes(names=values, functions=FUNCTIONS)
    try:
        return bool(evaluator.eval(expression.strip()))
    except Exception as exc:  # any failure of a stored expression means "cannot tell"
        raise ConditionError(f"{type(exc).__name__}: {exc}") from None


def risk_for(tool: Tool) -> Risk:
    """Risk from the effect (read low, write medium, destructive high), one level up for a
    conditional policy: its condition singles out the calls riskier than the tool's usual ones."""
    level = _EFFECT_RISK.get(tool.effect, 1) + (1 if tool.approval == ApprovalPolicy.WHEN else 0)
    return _RISKS[min(level, len(_RISKS) - 1)]


def approval_need(tool: Tool, arguments: dict) -> ApprovalNeed | None:
    """The approval a call of `tool` with `arguments` needs, or None. No I/O."""
    if tool.approval == ApprovalPolicy.NEVER:
        return None
    if tool.approval == ApprovalPolicy.ALWAYS:
        return _need(tool, f"{tool.name} always needs approval")
    names = list((tool.input_schema or {}).get("properties") or {})
    condition = tool.approval_condition.strip()
    reason = f"{tool.name} needs approval when {condition}"
    try:
        if not condition_holds(condition, arguments, names=names):
            return None
    except ConditionError as exc:
        return _need(tool, f"{reason} (the condition could not be evaluated: {exc})")
    return _need(tool, reason + _values_of(condition, arguments))


def _values_of(condition: str, arguments: dict) -> str:
    """" (amount = 120)": the arguments the condition looked at, for the approver."""
    used = sorted({node.id for node in ast.walk(ast.parse(condition, mode="eval"))
                   if isinstance(node, ast.Name) and node.id in arguments})
    return f" ({', '.join(f'{name} = {arguments[name]!r}' for name in used)})" if used else ""


def _need(tool: Tool, reason: str) -> ApprovalNeed:
    return ApprovalNeed(
        risk=risk_for(tool),
        reason=reason,
        required_approvals=tool.required_approvals,
        approver_group_id=tool.approver_group_id,
        escalation_group_id=tool.escalation_group_id,
        expires_in_seconds=tool.expires_in_seconds,
        expiry_action=tool.expiry_action,
    )
