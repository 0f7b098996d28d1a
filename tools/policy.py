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
    known = set(names) if names is not None else None
    for node in ast.walk(_parse(expression, "condition")):
        _check_node(node, known)


def _parse(expression: str, what: str) -> ast.Expression:
    if not expression.strip():
        raise ConditionError(f"The {what} is empty.")
    if len(expression) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"The {what} is longer than {MAX_CONDITION_LENGTH} characters.")
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"The {what} is not a valid expression: {exc.msg}.") from None


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
    return _evaluate(ast.parse(expression.strip()).body[0], values)


def _evaluate(tree: ast.AST, names: dict) -> bool:
    evaluator = EvalWithCompoundTypes(names=names, functions=FUNCTIONS)
    try:
        return bool(evaluator.eval("", previously_parsed=tree))
    except KeyError as exc:
        raise ConditionError(f"there is no {exc.args[0]!r}") from None
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


# -- argument rules ------------------------------------------------------------------------------
#
# A rule is an expression every call of a tool must make true, checked by the gateway before the
# call: `arguments.customer_id == user.attributes.customer_id`. The same engine as conditions, with
# three names, read with dots (or literal subscripts): `arguments` (the call's, those of the schema
# left out being None), `user` (the run's end user: `username`, and `attributes`, their membership's
# in the run's tenant) and `run` (`metadata`, `agent`: its slug). A dotted path is evaluated as
# subscripts of plain dicts, so it reaches data, never a Python attribute. A rule that cannot be
# evaluated (an attribute the user does not have) is broken: the call is refused.

RULE_FIELDS = {"arguments": None, "user": {"username", "attributes"}, "run": {"metadata", "agent"}}
MAX_RULES = 10


def rule_check(expression: str, *, names: Iterable[str] | None = None) -> None:
    """Raise ConditionError unless `expression` is an allowed rule; with `names` (the schema's
    argument names) `arguments.x` must name one of them."""
    known = set(names) if names is not None else None
    tree = _parse(expression, "rule")
    paths = {id(node.value) for node in ast.walk(tree) if isinstance(node, (ast.Attribute, ast.Subscript))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            _check_rule_attribute(node, known)
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in RULE_FIELDS:
            raise ConditionError(f"A rule reads only {', '.join(RULE_FIELDS)}; {node.id!r} is none of them.")
        elif isinstance(node, ast.Name) and node.id in RULE_FIELDS and id(node) not in paths:
            raise ConditionError(f"Name a field of {node.id}, e.g. {_example(node.id)}.")
        else:
            _check_node(node, None)


def _check_rule_attribute(node: ast.Attribute, known: set[str] | None) -> None:
    if node.attr.startswith("_"):
        raise ConditionError(f"The field {node.attr!r} is not allowed in a rule.")
    if not isinstance(node.value, (ast.Name, ast.Attribute, ast.Subscript)):
        raise ConditionError("Dots in a rule follow arguments, user or run, e.g. user.attributes.customer_id.")
    if not isinstance(node.value, ast.Name):
        return  # deeper in a path: any key of the data
    fields = RULE_FIELDS.get(node.value.id) if node.value.id != "arguments" else known
    if fields is not None and node.attr not in fields:
        choices = ", ".join(sorted(fields)) or "none"
        raise ConditionError(f"{node.value.id}.{node.attr} does not exist ({node.value.id} has: {choices}).")


def _example(root: str) -> str:
    return {"arguments": "arguments.customer_id", "user": "user.attributes.customer_id",
            "run": "run.metadata.customer_id"}[root]


class _DotsToSubscripts(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        subscript = ast.Subscript(value=self.visit(node.value), slice=ast.Constant(node.attr), ctx=ast.Load())
        return ast.copy_location(subscript, node)


def rule_holds(expression: str, values: dict) -> bool:
    """Whether the rule is true for `values` ({"arguments": ..., "user": ..., "run": ...});
    raises ConditionError when it cannot be evaluated."""
    rule_check(expression)
    tree = ast.fix_missing_locations(_DotsToSubscripts().visit(ast.parse(expression.strip())))
    return _evaluate(tree.body[0], values)


def rule_violation(tool: Tool, values: dict) -> str | None:
    """Why a call of `tool` with `values` breaks one of its argument rules, or None. No I/O.

    The message is for the model: it names the rule and the arguments it read, never the user's
    attributes or the run's metadata."""
    arguments = values["arguments"]
    for rule in tool.argument_rules or []:
        try:
            if rule_holds(rule, values):
                continue
            problem = "does not hold"
        except ConditionError as exc:
            problem = f"could not be checked ({exc})"
        used = sorted({node.attr for node in ast.walk(ast.parse(rule, mode="eval")) if isinstance(node, ast.Attribute)
                       and isinstance(node.value, ast.Name) and node.value.id == "arguments"})
        shown = ", ".join(f"{name} = {arguments.get(name)!r}" for name in used)
        return f"{tool.name} refused this call: its rule {rule} {problem}" + (f" ({shown})" if shown else "") + "."
    return None
