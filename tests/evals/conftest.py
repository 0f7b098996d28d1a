"""An agent that asks to refund an order (a tool that needs approval) and then answers, and a
suite of cases for it; a suite with a history (tests/support/evals.py); a finished run."""

import pytest

from agentops.tenancy.principal import Principal
from tests.factories import AgentFactory, EvalCaseFactory, EvalSuiteFactory
from tests.support.evals import History, finished_run, make_history
from tools.models import Tool

REFUND_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                 "required": ["order_id"]}
REFUND_SCRIPT = [
    {"tool_calls": [{"name": "payments__refund", "arguments": {"order_id": "1042", "amount": 20}}]},
    {"content": "Refunded order 1042."},
]
# The refund is never sent anywhere: every case records its result (and the URL goes nowhere).
RECORDED_REFUND = [{"tool": "payments.refund", "output": {"refund_id": "R-1"}}]


@pytest.fixture
def principal(operator, tenant):
    return Principal(tenant=tenant, user=operator, membership=operator.memberships.get(tenant=tenant))


@pytest.fixture
def refund_tool(tenant):
    return Tool.objects.create(tenant=tenant, name="payments.refund", description="Refund an order.", kind="http",
                               config={"url": "http://127.0.0.1:9/refund", "method": "POST"},
                               input_schema=REFUND_SCHEMA, approval="always", effect="destructive")


@pytest.fixture
def refund_agent(tenant, refund_tool, operator):  # the operator runs the cases
    return AgentFactory(tenant=tenant, slug="refunder", version__provider="scripted",
                        version__provider_config={"responses": REFUND_SCRIPT}, version__tools=["payments.refund"])


@pytest.fixture
def refund_suite(refund_agent):
    suite = EvalSuiteFactory(agent=refund_agent, name="refunds",
                             default_assertions=[{"type": "icontains", "value": "order {{order}}"}],
                             default_vars={"order": "1042"})
    EvalCaseFactory(suite=suite, name="approved refund", message="Refund order {{order}}", position=1,
                    assertions=[{"type": "tool-called", "value": {"name": "payments.refund",
                                                                 "arguments": {"order_id": "1042"}}}],
                    approval_decisions=[{"decision": "approve"}], tool_results=RECORDED_REFUND)
    EvalCaseFactory(suite=suite, name="rejected refund", message="Refund order {{order}}", position=2,
                    assertions=[{"type": "not-tool-called", "value": "payments.refund"}],
                    approval_decisions=[{"decision": "reject", "comment": "No refunds today."}],
                    tool_results=RECORDED_REFUND)
    return suite


@pytest.fixture
def eval_history(tenant) -> History:
    return make_history(tenant)


@pytest.fixture
def agent_run(tenant, operator):
    """A finished run of the agent "greeter" (the demo model, no tools): it answered a greeting."""
    return finished_run(operator, tenant, "greeter", "Hello")
