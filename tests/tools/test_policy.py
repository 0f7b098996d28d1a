"""Approval policies: conditions evaluated with simpleeval, unsafe ones refused, risk levels."""

import pytest

from tools.models import Tool
from tools.policy import ConditionError, approval_need, condition_check, condition_holds, risk_for

SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}}}


def gated(**fields) -> Tool:
    defaults = {"name": "billing.refund", "input_schema": SCHEMA, "effect": "write", "approval": "when",
                "approval_condition": "amount > 50"}
    return Tool(**{**defaults, **fields})


def test_a_call_over_the_threshold_needs_approval():
    need = approval_need(gated(), {"order_id": "1042", "amount": 120})

    assert need is not None
    assert need.reason == "billing.refund needs approval when amount > 50 (amount = 120)"
    assert need.required_approvals == 1 and need.expiry_action == "wait"


def test_a_call_at_or_under_the_threshold_needs_none():
    assert approval_need(gated(), {"order_id": "1042", "amount": 50}) is None


def test_a_condition_that_cannot_be_evaluated_requires_approval():
    # Given a call without the argument the condition reads
    need = approval_need(gated(), {"order_id": "1042"})

    # Then a human looks, and the reason says why
    assert need is not None and "could not be evaluated" in need.reason


@pytest.mark.parametrize("policy, effect, risk", [
    ("always", "read", "low"), ("always", "write", "medium"), ("when", "write", "high"),
    ("always", "destructive", "high"), ("when", "read", "medium"),
])
def test_risk_follows_effect_and_policy(policy, effect, risk):
    assert risk_for(gated(approval=policy, effect=effect)) == risk


def test_never_and_always():
    assert approval_need(gated(approval="never", approval_condition=""), {"amount": 999}) is None
    assert approval_need(gated(approval="always", approval_condition=""), {"amount": 1}).reason == (
        "billing.refund always needs approval")


@pytest.mark.parametrize("expression, arguments, expected", [
    ("amount > 50 and order_id != '1042'", {"amount": 60, "order_id": "7"}, True),
    ("country not in ['US', 'CA']", {"country": "FR"}, True),
    ("len(items) >= 3", {"items": [1, 2]}, False),
    ("customer['tier'] == 'gold'", {"customer": {"tier": "gold"}}, True),
    ("lower(reason) == 'fraud'", {"reason": "FRAUD"}, True),
])
def test_conditions_over_arguments(expression, arguments, expected):
    assert condition_holds(expression, arguments) is expected


@pytest.mark.parametrize("expression", [
    "__import__('os').system('id')",
    "amount.__class__",
    "open('/etc/passwd')",
    "[x for x in range(10)]",
    "(lambda: 1)()",
    "amount if True else exit()",
    "_secret > 1",
])
def test_unsafe_expressions_are_refused(expression):
    with pytest.raises(ConditionError):
        condition_check(expression)


def test_a_condition_naming_an_unknown_argument_is_refused():
    with pytest.raises(ConditionError, match="'amout', which is not an argument"):
        condition_check("amout > 50", names=["amount", "order_id"])
