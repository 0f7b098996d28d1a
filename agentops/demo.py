"""The demo tenant: what `manage.py seed_demo` creates, idempotently.

Each part of the product adds its demo content here, so a fresh `make run` shows it working.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from agentops.agents.models import Agent
from agentops.agents.services import agent_create, agent_version_create
from agentops.audit.services import Actor
from agentops.tenancy.models import Tenant
from agentops.tenancy.roles import Role
from agentops.tenancy.services import membership_set, tenant_create
from tools.demo import DEMO_TOOL_NAMES
from tools.demo.seed import seed_demo_tools

ACTOR = Actor.system("seed_demo")
DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # (username, role, staff): the operator also administers the demo through the admin.
    ("operator", Role.OPERATOR, True),
    ("approver", Role.APPROVER, False),
    # A viewer whose agents may use only the tools granted to him one by one (not billing.refund).
    ("sam", Role.VIEWER, False),
]

SUPPORT_PROMPT = (
    "You are the support agent of Acme Inc. Answer the customer's question using the tools you are "
    "granted: look things up before you answer, never invent order or account data, and ask for "
    "approval-gated actions only when the customer asked for them. Answer briefly and politely."
)


def seed_demo() -> list[str]:
    """Create or complete the demo tenant; returns what it did, line by line."""
    report: list[str] = []
    with transaction.atomic():
        tenant = _tenant(report)
        users = _users(tenant, report)
        seed_tools(tenant, users, report)
        _support_agent(tenant, users["operator"], report)
    return report


def _tenant(report) -> Tenant:
    tenant = Tenant.objects.filter(slug="demo").first()
    if tenant is None:
        tenant = tenant_create(name="Demo", slug="demo", actor=ACTOR)
        report.append("created tenant demo")
    return tenant


def _users(tenant, report) -> dict:
    User = get_user_model()
    users = {}
    for username, role, staff in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": staff, "is_superuser": staff})
        if created:
            # A known password only where it cannot leak into production.
            if settings.DEBUG:
                user.set_password(DEMO_PASSWORD)
            else:
                user.set_unusable_password()
            user.save()
            report.append(f"created user {username}")
        membership_set(tenant=tenant, user=user, role=role, actor=ACTOR)
        users[username] = user
    return users


def seed_tools(tenant, users, report):
    """The demo tools and their data: knowledge base, customers, orders, the billing.refund HTTP
    tool, and sam's per-tool permissions (the operator's role already lets him use every tool)."""
    seed_demo_tools(tenant=tenant, restricted_user=users["sam"], actor=ACTOR, report=report)


def support_agent_config() -> dict:
    return {
        "model": "gpt-4o-mini",
        "provider": "default",
        "system_prompt": SUPPORT_PROMPT,
        "tools": list(DEMO_TOOL_NAMES),
        "workflow": "agent_loop",
        "max_steps": 20,
        "timeout_seconds": 300,
    }


def _support_agent(tenant, owner, report):
    agent = Agent.objects.filter(tenant=tenant, slug="support").first()
    if agent is None:
        agent_create(tenant=tenant, slug="support", name="Customer support",
                     description="Answers customer questions about orders, refunds and accounts.",
                     config=support_agent_config(), actor=ACTOR, user=owner)
        report.append("created agent support")
    else:
        agent_version_create(agent=agent, config=support_agent_config(), actor=ACTOR, user=owner)
