"""The support agent's eval suite, and a version of the agent that regresses it.

`support-basics` asks five questions the offline demo model answers with the demo tools, and
checks what each answer says and which tools it called. Version 2 of the support agent left
`crm.lookup_customer` out of its tools (a leaner tool list, the kind of change that looks
harmless): the customer question then finds no tool and that one case fails. Version 3 put the
tool back, so the agent's current version is the one that passes.
"""

from __future__ import annotations

from agentops.agents.models import Agent
from agentops.agents.services import agent_version_create
from agentops.audit.services import Actor
from evals.models import EvalSuite
from evals.services import eval_suite_create

SUITE_NAME = "support-basics"
CUSTOMER_TOOL = "crm.lookup_customer"

CASES = [
    {"name": "refund policy", "message": "What is your refund policy?",
     "assertions": [{"type": "icontains", "value": "within 30 days of delivery"},
                    {"type": "trajectory", "value": ["kb.search"]}]},
    {"name": "order status", "message": "Where is my order #1042?",
     "assertions": [{"type": "icontains", "value": "status delivered"},
                    {"type": "trajectory", "value": ["orders.lookup"]}]},
    {"name": "shipping time", "message": "How long does shipping take?",
     "assertions": [{"type": "icontains", "value": "3 to 5 business days"}]},
    {"name": "customer plan", "message": "Which plan is the customer grace@example.com on?",
     "assertions": [{"type": "icontains", "value": "plan basic"},
                    {"type": "trajectory", "value": [CUSTOMER_TOOL]}]},
    {"name": "greeting", "message": "Hello",
     "assertions": [{"type": "equals", "value": "Hello! How can I help you today?"}]},
]


def seed_support_evals(*, agent: Agent, config: dict, owner, actor: Actor, report: list[str]) -> None:
    """The lean version of `agent` (whose current `config` is the full one) and the suite, each
    made once."""
    lean_tools = [name for name in config["tools"] if name != CUSTOMER_TOOL]
    if not any(version.tools == lean_tools for version in agent.versions.all()):
        lean = agent_version_create(agent=agent, config={**config, "tools": lean_tools}, actor=actor, user=owner)
        restored = agent_version_create(agent=agent, config=config, actor=actor, user=owner)
        report.append(f"created support v{lean.number} without {CUSTOMER_TOOL} and v{restored.number} with it again")
    if not EvalSuite.objects.filter(tenant=agent.tenant, name=SUITE_NAME).exists():
        eval_suite_create(tenant=agent.tenant, agent=agent, name=SUITE_NAME, actor=actor, cases=CASES,
                          description="What the support agent must keep answering: policies, orders, customers.")
        report.append(f"created eval suite {SUITE_NAME} ({len(CASES)} cases)")
