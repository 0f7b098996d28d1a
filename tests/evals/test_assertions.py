"""Each assertion type on an answer it accepts and one it refuses, and its `not-` form inverted."""

import pytest

from evals.assertions import Outcome, ToolCallMade, assertion_grade, assertion_validate, case_grade
from evals.errors import EvalError

ANSWER = 'Refund issued for order 1042. {"order": 1042, "status": "refunded", "items": [{"sku": "A"}]}'


def outcome(text=ANSWER, **fields):
    return Outcome(output={"answer": text, "tool_calls": 0}, text=text, status="succeeded", **fields)


CALLS = (ToolCallMade("orders.lookup", {"order_id": "1042"}, "completed"),
         ToolCallMade("billing.refund", {"order_id": "1042", "amount": 20}, "completed"),
         ToolCallMade("mail.send", {"to": "ada@example.com"}, "completed"))
AGENT = dict(tool_calls=CALLS, steps=7, cost=0.0042, latency_ms=1800.0)

# (assertion, outcome fields, passes)
CASES = [
    ({"type": "equals", "value": ANSWER}, {}, True),
    ({"type": "equals", "value": "Refund issued"}, {}, False),
    ({"type": "equals", "value": {"a": 1}}, {"text": '{"a": 1}'}, True),
    ({"type": "contains", "value": "order 1042"}, {}, True),
    ({"type": "contains", "value": "ORDER 1042"}, {}, False),
    ({"type": "icontains", "value": "ORDER 1042"}, {}, True),
    ({"type": "icontains", "value": "order 9999"}, {}, False),
    ({"type": "contains-any", "value": ["declined", "issued"]}, {}, True),
    ({"type": "contains-any", "value": ["declined", "pending"]}, {}, False),
    ({"type": "contains-all", "value": ["Refund", "1042"]}, {}, True),
    ({"type": "contains-all", "value": ["Refund", "9999"]}, {}, False),
    ({"type": "icontains-all", "value": ["refund", "ORDER"]}, {}, True),
    ({"type": "starts-with", "value": "Refund"}, {}, True),
    ({"type": "starts-with", "value": "Order"}, {}, False),
    ({"type": "regex", "value": r"order \d{4}\b"}, {}, True),
    ({"type": "regex", "value": r"^\d+$"}, {}, False),
    ({"type": "is-json"}, {"text": '{"ok": true}'}, True),
    ({"type": "is-json"}, {}, False),
    ({"type": "is-json", "value": {"type": "object", "required": ["id"]}}, {"text": '{"ok": true}'}, False),
    ({"type": "contains-json"}, {}, True),
    ({"type": "contains-json"}, {"text": "no json here {oops"}, False),
    ({"type": "contains-json", "value": {"type": "object", "properties": {"status": {"const": "refunded"}},
                                         "required": ["status"]}}, {}, True),
    ({"type": "contains-json", "value": {"type": "object", "required": ["refund_id"]}}, {}, False),
    ({"type": "json-subset", "value": {"status": "ok", "items": [{"sku": "A"}]}},
     {"text": '{"status": "ok", "total": 3, "items": [{"sku": "A", "qty": 1}]}'}, True),
    ({"type": "json-subset", "value": {"status": "ok"}}, {"text": '{"status": "failed"}'}, False),
    ({"type": "tool-called", "value": "billing.refund"}, AGENT, True),
    ({"type": "tool-called", "value": "billing__refund"}, AGENT, True),  # the wire name the model sees
    ({"type": "tool-called", "value": "billing.void"}, AGENT, False),
    ({"type": "tool-called", "value": {"name": "billing.refund", "arguments": {"amount": 20}}}, AGENT, True),
    ({"type": "tool-called", "value": {"name": "billing.refund", "arguments": {"amount": 200}}}, AGENT, False),
    ({"type": "trajectory", "value": ["orders.lookup", "billing.refund", "mail.send"]}, AGENT, True),
    ({"type": "trajectory", "value": ["orders.lookup", "mail.send"]}, AGENT, False),
    ({"type": "trajectory", "value": ["orders.lookup", "mail.send"], "mode": "in-order"}, AGENT, True),
    ({"type": "trajectory", "value": {"tools": ["mail.send", "orders.lookup"], "mode": "in-order"}}, AGENT, False),
    ({"type": "trajectory", "value": ["mail.send", "orders.lookup"], "mode": "any-order"}, AGENT, True),
    ({"type": "trajectory", "value": ["mail.send", "mail.send"], "mode": "any-order"}, AGENT, False),
    ({"type": "tool-call-f1", "value": ["orders.lookup", "billing.refund", "mail.send"]}, AGENT, True),
    ({"type": "tool-call-f1", "value": ["orders.lookup", "billing.refund"]}, AGENT, False),
    ({"type": "tool-call-f1", "value": ["orders.lookup", "billing.refund"], "threshold": 0.8}, AGENT, True),
    ({"type": "steps", "value": 8}, AGENT, True),
    ({"type": "steps", "value": {"min": 1, "max": 5}}, AGENT, False),
    ({"type": "cost", "threshold": 0.01}, AGENT, True),
    ({"type": "cost", "threshold": 0.001}, AGENT, False),
    ({"type": "latency", "threshold": 2000}, AGENT, True),
    ({"type": "latency", "threshold": 1000}, AGENT, False),
]


@pytest.mark.parametrize(("spec", "fields", "passes"), CASES, ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(CASES)])
def test_an_assertion_passes_or_fails_as_promptfoo_defines_it(spec, fields, passes):
    assertion_validate(spec)

    result = assertion_grade(spec, outcome(**fields))

    assert result["passed"] is passes, result["explanation"]


@pytest.mark.parametrize(("spec", "fields", "passes"), CASES, ids=[f"not-{c[0]['type']}-{i}" for i, c in enumerate(CASES)])
def test_the_not_form_inverts_the_assertion(spec, fields, passes):
    plain = assertion_grade(spec, outcome(**fields))

    inverted = assertion_grade({**spec, "type": "not-" + spec["type"]}, outcome(**fields))

    assert inverted["passed"] is (not passes)
    assert inverted["score"] == pytest.approx(1 - plain["score"])
    assert inverted["explanation"].startswith("NOT: ")


def test_tool_call_f1_scores_the_overlap():
    result = assertion_grade({"type": "tool-call-f1", "value": ["orders.lookup", "billing.refund"]}, outcome(**AGENT))

    assert result["score"] == pytest.approx(0.8)  # precision 2/3, recall 1


def test_values_take_the_case_vars():
    result = assertion_grade({"type": "contains", "value": "order {{order_id}}"}, outcome(vars={"order_id": 1042}))

    assert result["passed"] is True


@pytest.mark.parametrize("kind", ["javascript", "python", "webhook", "not-python"])
def test_an_assertion_that_would_run_code_is_refused_by_name(kind):
    with pytest.raises(EvalError) as refused:
        assertion_validate({"type": kind, "value": "output.length > 3"})

    assert refused.value.code == "unsupported_assertion"
    assert repr(kind) in refused.value.message


@pytest.mark.parametrize(("spec", "reason"), [
    ({"type": "similar", "value": "x"}, "unknown assertion type 'similar'"),
    ({"type": "regex", "value": "("}, "invalid regular expression"),
    ({"type": "contains"}, "needs a value"),
    ({"type": "cost"}, "threshold"),
    ({"type": "trajectory", "value": ["a"], "mode": "sideways"}, "mode must be one of"),
    ({"type": "is-json", "value": {"type": "nonsense"}}, "invalid JSON Schema"),
    ({"type": "equals", "value": "x", "weight": -1}, "weight"),
    ({"type": "equals", "value": "x", "colour": "red"}, "unknown keys"),
])
def test_an_unusable_assertion_is_refused_with_the_reason(spec, reason):
    with pytest.raises(EvalError) as refused:
        assertion_validate(spec)

    assert reason in refused.value.message


def _result(passed, score, weight=1):
    return {"type": "x", "passed": passed, "score": score, "weight": weight, "explanation": ""}


def test_a_case_passes_when_every_weighted_assertion_passes():
    assert case_grade([_result(True, 1), _result(False, 0, weight=0)], threshold=None, run_succeeded=True) == (True, 1.0)
    assert case_grade([_result(True, 1), _result(False, 0)], threshold=None, run_succeeded=True) == (False, 0.5)


def test_with_a_threshold_the_weighted_score_decides():
    results = [_result(True, 1, weight=3), _result(False, 0, weight=1)]

    assert case_grade(results, threshold=0.75, run_succeeded=True) == (True, 0.75)
    assert case_grade(results, threshold=0.8, run_succeeded=True) == (False, 0.75)


def test_a_case_whose_run_failed_fails_whatever_its_assertions_say():
    assert case_grade([_result(True, 1)], threshold=None, run_succeeded=False) == (False, 1.0)
    assert case_grade([], threshold=None, run_succeeded=False) == (False, 0.0)
