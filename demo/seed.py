"""The demo tenant: what `manage.py seed_demo` creates, idempotently.

Its users and support agent; the knowledge base, customers and orders the demo tools read (in the
demo database, see demo.routers); the orders.lookup SQL tool over that database (global, as only
platform tools may name a database); the billing.refund HTTP tool and its token, a secret of the
tenant; the restricted user's tool permissions. And a customer-facing agent, `shop`, that only the
storefront group may start, whose orders.customer_lookup tool has a rule binding its customer to
the customer the run acts for (ada, whose membership carries customer_id C-1001). The support
agent's eval suite and a version that regresses it (demo.eval_suite). A second run
changes nothing (it only brings the billing URL up to date when AGENTOPS_PUBLIC_URL changed).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from agentops.agents.models import Agent
from agentops.agents.services import agent_access_set, agent_create, agent_version_create
from agentops.audit.services import Actor
from agentops.secrets.resolver import SecretError, SecretResolver
from agentops.secrets.services import secret_set
from agentops.memory.models import Thread
from agentops.tenancy.models import Membership, Tenant, TenantGroup
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from agentops.tenancy.services import membership_set, tenant_create
from tools.models import ApprovalPolicy, Effect, ExpiryAction, Tool, ToolKind
from tools.selectors import tool_get, tool_map
from runs.services import run_create
from tools.services import tool_create, tool_delete, tool_sync, tool_update, tool_use_grant

from . import DEMO_TOOL_NAMES
from .billing import TOKEN_NAME, configured_token
from .eval_suite import seed_support_evals
from .models import DemoArticle, DemoCustomer, DemoOrder
from .routers import DEMO_ALIAS

ACTOR = Actor.system("seed_demo")
DEMO_PASSWORD = "demo"
# The platform's administrator: a superuser, member of no tenant, who sees every tenant's rows.
PLATFORM_ADMIN = "admin"

DEMO_USERS = [
    # (username, role, staff): the operator also sees the demo tenant's rows in the admin (and,
    # being an operator, changes none of them: that is an owner's or a developer's role).
    ("operator", Role.OPERATOR, True),
    # The tenant's owner: budgets, every user's memory and forgetting, legal holds, members, keys.
    ("owner", Role.OWNER, True),
    ("approver", Role.APPROVER, False),
    # A viewer whose agents may use only the tools granted to him one by one (not billing.refund).
    ("sam", Role.VIEWER, False),
    # A customer: runs of the shop agent act for her (on_behalf_of) and see only her orders.
    ("ada", Role.VIEWER, False),
]
# What tool rules read of each demo user (their membership's attributes).
DEMO_ATTRIBUTES = {"ada": {"customer_id": "C-1001"}}
STOREFRONT_GROUP = "storefront"  # who may start the shop agent: the operator

SHOP_PROMPT = (
    "You are Acme's shop assistant, talking to one customer. Look up only their own orders, with their "
    "customer id, and never guess another customer's. Answer briefly and politely."
)
CUSTOMER_ORDERS_TOOL = "orders.customer_lookup"
SHOP_TOOLS = ("kb.search", CUSTOMER_ORDERS_TOOL)
# The rule the gateway checks before each call: the customer asked for is the one the run acts for.
CUSTOMER_RULE = "arguments.customer_id == user.attributes.customer_id"

SUPPORT_PROMPT = (
    "You are the support agent of Acme Inc. Answer the customer's question using the tools you are "
    "granted: look things up before you answer, never invent order or account data, and ask for "
    "approval-gated actions only when the customer asked for them. Answer briefly and politely."
)

BILLING_TOOL = "billing.refund"
ORDERS_TOOL = "orders.lookup"

ARTICLES = [
    ("refund-policy", "Refund policy", "refund return money back policy",
     "You can ask for a refund within 30 days of delivery. Unused items in their original packaging are "
     "refunded in full; opened items are refunded up to 80% of the price. Refunds go back to the original "
     "payment method and usually appear within 5 to 10 business days. Shipping costs are refunded only when "
     "the item arrived damaged or was not what you ordered."),
    ("request-a-refund", "How to request a refund", "refund request return label",
     "To request a refund, reply to your order confirmation or contact support with your order number. "
     "We send a prepaid return label for damaged or wrong items. Refunds above 50 USD are reviewed by a "
     "team lead before they are issued, which can add one business day."),
    ("shipping-times", "Shipping times and costs", "shipping delivery time cost international",
     "Standard shipping takes 3 to 5 business days within the US and 7 to 14 business days internationally. "
     "Express shipping takes 1 to 2 business days. Orders over 75 USD ship for free within the US. Orders "
     "placed before 2 pm Eastern ship the same day."),
    ("track-your-order", "Tracking your order", "tracking track shipment status carrier",
     "As soon as your order ships we email you a tracking link. You can also see the status of every order "
     "under Account > Orders. If the tracking has not changed for 5 business days, contact support and we "
     "will open an investigation with the carrier."),
    ("change-address", "Changing the delivery address", "address delivery change shipping",
     "You can change the delivery address while the order is still processing: go to Account > Orders and "
     "choose Edit address. Once an order has shipped the address can no longer be changed, but you can ask "
     "the carrier to hold the parcel at a pickup point."),
    ("cancel-order", "Cancelling an order", "cancel cancellation order",
     "Orders can be cancelled free of charge until they ship. After shipping, refuse the delivery or return "
     "the parcel and we refund it as soon as it reaches our warehouse. Subscriptions can be cancelled at any "
     "time and stay active until the end of the paid period."),
    ("damaged-items", "Damaged or defective items", "damaged broken defective replacement warranty",
     "If an item arrives damaged, take a photo of the item and the packaging and contact support within 14 "
     "days. We replace it or refund it in full, shipping included, whichever you prefer. You do not need "
     "to return items worth less than 20 USD."),
    ("reset-password", "Resetting your password", "password login account reset locked",
     "Use Forgot password on the sign-in page and we email you a reset link that is valid for one hour. "
     "After five failed sign-in attempts the account is locked for 15 minutes. Support can never see or "
     "ask for your password."),
    ("payment-methods", "Payment methods", "payment card billing invoice paypal",
     "We accept Visa, Mastercard, American Express and PayPal. You can update your card under Account > "
     "Billing. Business customers on the Pro plan can pay by invoice with 30-day terms."),
    ("plans-and-billing", "Plans and billing cycles", "plan subscription billing upgrade downgrade pro basic",
     "The Basic plan is free; the Pro plan costs 12 USD a month or 120 USD a year. Upgrades take effect "
     "immediately and are prorated; downgrades take effect at the end of the billing cycle. Invoices are "
     "emailed on the first day of each cycle."),
    ("warranty", "Warranty", "warranty repair defective guarantee",
     "All products carry a two-year warranty against manufacturing defects. Warranty claims need the order "
     "number and a short description of the problem; we repair or replace the item, and refund it if "
     "neither is possible."),
]

CUSTOMERS = [
    ("C-1001", "Ada Lovelace", "ada@example.com", "pro", dt.date(2021, 3, 14)),
    ("C-1002", "Grace Hopper", "grace@example.com", "basic", dt.date(2022, 7, 1)),
    ("C-1003", "Alan Turing", "alan@example.com", "pro", dt.date(2020, 11, 23)),
    ("C-1004", "Katherine Johnson", "katherine@example.com", "basic", dt.date(2023, 2, 8)),
]

# (order id, customer, status, items [(sku, name, quantity, unit price)], days ago)
ORDERS = [
    ("1040", "C-1001", "delivered", [("KB-01", "Mechanical keyboard", 1, "89.00")], 40),
    ("1041", "C-1002", "shipped", [("MS-02", "Wireless mouse", 1, "24.50"), ("PD-01", "Mouse pad", 1, "5.50")], 6),
    ("1042", "C-1001", "delivered", [("CB-03", "USB-C cable, 2 m", 2, "15.00")], 12),
    ("1043", "C-1003", "delivered", [("HP-01", "Noise-cancelling headphones", 1, "129.00")], 9),
    ("1044", "C-1004", "processing",
     [("ST-01", "Laptop stand", 1, "45.00"), ("CB-03", "USB-C cable, 2 m", 1, "15.00")], 1),
    ("1045", "C-1003", "delivered", [("MN-27", "27-inch monitor", 1, "329.00")], 25),
    ("1046", "C-1002", "cancelled", [("WC-01", "Webcam", 1, "59.00")], 18),
    ("1047", "C-1004", "delivered", [("DK-01", "Docking station", 1, "149.00")], 33),
]


def seed_demo() -> list[str]:
    """Create or complete the demo tenant; returns what it did, line by line. One transaction."""
    report: list[str] = []
    with transaction.atomic(), transaction.atomic(using=DEMO_ALIAS):
        tenant = _tenant(report)
        users = _users(tenant, report)
        seed_demo_tools(tenant=tenant, restricted_user=users["sam"], actor=ACTOR, report=report)
        agent = _support_agent(tenant, users["operator"], report)
        seed_support_evals(agent=agent, config=support_agent_config(), owner=users["operator"], actor=ACTOR,
                           report=report)
        _shop_agent(tenant, users, report)
    return report


def _tenant(report) -> Tenant:
    tenant = Tenant.objects.filter(slug="demo").first()
    if tenant is None:
        tenant = tenant_create(name="Demo", slug="demo", actor=ACTOR)
        report.append("created tenant demo")
    return tenant


def _users(tenant, report) -> dict:
    users = {}
    for username, role, staff in DEMO_USERS:
        user = _user(username, report, is_staff=staff, is_superuser=False)
        # Attributes only where there are none: ones changed in the admin stay, like tools' policies.
        existing = Membership.objects.filter(tenant=tenant, user=user).values_list("attributes", flat=True).first()
        attributes = None if existing else DEMO_ATTRIBUTES.get(username)
        membership_set(tenant=tenant, user=user, role=role, attributes=attributes, actor=ACTOR)
        users[username] = user
    _user(PLATFORM_ADMIN, report, is_staff=True, is_superuser=True)
    return users


def _user(username, report, **flags):
    """The demo user `username` with these flags (set again on an older demo database, where the
    operator was a superuser)."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults=flags)
    if created:
        # A known password only where it cannot leak into production.
        if settings.DEBUG:
            user.set_password(DEMO_PASSWORD)
        else:
            user.set_unusable_password()
        user.save()
        report.append(f"created user {username}")
    elif any(getattr(user, flag) != value for flag, value in flags.items()):
        get_user_model().objects.filter(pk=user.pk).update(**flags)
        report.append(f"set {username}'s flags: {', '.join(f'{flag}={value}' for flag, value in flags.items())}")
    return user


def support_agent_config() -> dict:
    return {
        "model": "gpt-4o-mini",
        "provider": "default",
        "system_prompt": SUPPORT_PROMPT,
        "tools": list(DEMO_TOOL_NAMES),
        "workflow": "agent_loop",
        "max_steps": 20,
        "timeout_seconds": 300,
        # Recalls what it knows of the customer it acts for, and remembers what they tell it.
        "memory": SUPPORT_MEMORY,
    }


SUPPORT_MEMORY = {"read": ["user", "agent"], "write": ["user"], "recall": 3, "extract": True}
# A conversation in a thread, by the operator (whom the demo API key acts as): a preference stated
# in the first run is in the second run's thread history and long-term memory, and in later threads.
MEMORY_THREAD = "order-updates"
MEMORY_CONVERSATION = (
    "Hi, I prefer email for updates.",
    "Where is order #1042? How will you keep me updated?",
)


def seed_memory_conversation() -> list[str]:
    """Start the demo thread's two runs, once (the workers run them one after the other: the
    thread queues the second). Returns what it did."""
    tenant = Tenant.objects.get(slug="demo")
    if Thread.objects.filter(tenant=tenant, external_id=MEMORY_THREAD).exists():
        return []
    membership = Membership.objects.select_related("user").get(tenant=tenant, user__username="operator")
    principal = Principal(tenant=tenant, user=membership.user, membership=membership)
    with transaction.atomic():
        for message in MEMORY_CONVERSATION:
            run_create(principal=principal, agent_slug="support", input={"message": message}, thread=MEMORY_THREAD)
    return [f"started the thread {MEMORY_THREAD} (2 runs of the support agent)"]


def _support_agent(tenant, owner, report) -> Agent:
    agent = Agent.objects.filter(tenant=tenant, slug="support").first()
    if agent is None:
        agent = agent_create(tenant=tenant, slug="support", name="Customer support",
                             description="Answers customer questions about orders, refunds and accounts.",
                             config=support_agent_config(), actor=ACTOR, user=owner)
        report.append("created agent support")
    else:
        agent_version_create(agent=agent, config=support_agent_config(), actor=ACTOR, user=owner)
    return agent


def seed_demo_tools(*, tenant: Tenant, restricted_user, actor: Actor, report: list[str]) -> None:
    """Everything the demo's tools need in `tenant`: knowledge base, customers, orders, the
    billing.refund HTTP tool, and `restricted_user`'s per-tool permissions (an operator's role
    already lets him use every tool). Appends what it did to `report`."""
    report += tool_sync(actor=actor)
    _articles(tenant, report)
    _customers_and_orders(tenant, report)
    _orders_tool(actor, report)
    _customer_orders_tool(actor, report)
    _billing_token_secret(tenant, actor, report)
    _billing_tool(tenant, actor, report)
    _restricted_user_grants(tenant, restricted_user, actor, report)


def _articles(tenant: Tenant, report: list[str]) -> None:
    created = 0
    for slug, title, tags, body in ARTICLES:
        _, was_created = DemoArticle.objects.get_or_create(
            tenant=tenant, slug=slug, defaults={"title": title, "tags": tags, "body": body})
        created += was_created
    if created:
        report.append(f"created {created} knowledge base articles")


def _customers_and_orders(tenant: Tenant, report: list[str]) -> None:
    customers = {}
    for customer_id, name, email, plan, since in CUSTOMERS:
        customers[customer_id], _ = DemoCustomer.objects.get_or_create(
            tenant=tenant, customer_id=customer_id,
            defaults={"name": name, "email": email, "plan": plan, "since": since})
    now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    created = 0
    for order_id, customer_id, status, items, days_ago in ORDERS:
        lines = [{"sku": sku, "name": name, "quantity": qty, "unit_price": float(price)}
                 for sku, name, qty, price in items]
        amount = sum((Decimal(price) * qty for _, _, qty, price in items), Decimal("0"))
        _, was_created = DemoOrder.objects.get_or_create(
            tenant=tenant, order_id=order_id,
            defaults={"customer": customers[customer_id], "status": status, "items": lines, "amount": amount,
                      "placed_at": now - dt.timedelta(days=days_ago)})
        created += was_created
    if created:
        report.append(f"created {len(CUSTOMERS)} customers and {created} orders")


def billing_tool_config(tenant: Tenant) -> dict:
    base = settings.AGENTOPS_PUBLIC_URL.rstrip("/")
    return {
        "method": "POST",
        "url": f"{base}/demo/billing/refunds",
        "headers": {"Authorization": f"Bearer {{{{ secret:{TOKEN_NAME} }}}}", "Billing-Account": tenant.slug},
        "body": "arguments",
    }


BILLING_INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "description": "The order to refund, e.g. 1042."},
        "amount": {"type": "number", "exclusiveMinimum": 0,
                   "description": "How much to refund, in the order's currency."},
        "reason": {"type": "string", "maxLength": 500, "description": "Why the customer gets the refund."},
    },
    "required": ["order_id", "amount"],
    "additionalProperties": False,
}
BILLING_OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "refund_id": {"type": "string"},
        "order_id": {"type": "string"},
        "amount": {"type": "number"},
        "currency": {"type": "string"},
        "status": {"type": "string"},
    },
    "required": ["refund_id", "order_id", "amount", "status"],
}


ORDERS_QUERY = """\
SELECT o.order_id, o.status, o.amount, o.refunded_amount, o.currency, o.placed_at, o.items,
       c.customer_id, c.name AS customer_name, c.email AS customer_email
FROM demo_demoorder o JOIN demo_democustomer c ON c.id = o.customer_id
WHERE o.tenant_id = %(tenant_id)s AND o.order_id = ltrim(trim(%(order_id)s), '#')"""
ORDERS_CONFIG = {"database": DEMO_ALIAS, "query": ORDERS_QUERY, "max_rows": 1}
ORDERS_INPUT_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "minLength": 1, "maxLength": 20,
                                "description": "The order id, e.g. 1042."}},
    "required": ["order_id"],
    "additionalProperties": False,
}


def _orders_tool(actor: Actor, report: list[str]) -> None:
    """orders.lookup: a global SQL tool reading the demo database, each run its own tenant's orders
    (the adapter binds `tenant_id` to the run's tenant, never to an argument)."""
    existing = Tool.objects.filter(tenant=None, name=ORDERS_TOOL).first()
    if existing is not None and existing.is_code:  # the Python tool of earlier versions, its code gone
        tool_delete(tool=existing, actor=actor)
        report.append(f"removed the Python tool {ORDERS_TOOL}")
        existing = None
    if existing is not None:
        if existing.config != ORDERS_CONFIG:
            tool_update(tool=existing, changes={"config": ORDERS_CONFIG}, actor=actor)
            report.append(f"updated the {ORDERS_TOOL} query")
        return
    tool_create(
        tenant=None, name=ORDERS_TOOL, kind=ToolKind.SQL, actor=actor,
        description="Look up an order by its id (e.g. 1042): status, items, amount, refunds so far and the customer.",
        input_schema=ORDERS_INPUT_SCHEMA, config=ORDERS_CONFIG, timeout_seconds=5, idempotent=True, effect=Effect.READ,
    )
    report.append(f"created tool {ORDERS_TOOL}")


CUSTOMER_ORDERS_QUERY = ORDERS_QUERY + "\n  AND c.customer_id = %(customer_id)s"
CUSTOMER_ORDERS_INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": ORDERS_INPUT_SCHEMA["properties"]["order_id"],
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 20,
                        "description": "The id of the customer asking, e.g. C-1001."},
    },
    "required": ["order_id", "customer_id"],
    "additionalProperties": False,
}


def _customer_orders_tool(actor: Actor, report: list[str]) -> None:
    """orders.customer_lookup: orders.lookup for customer-facing agents, one customer's orders only.
    Its argument rule makes the gateway refuse a customer id other than the run's user's."""
    if Tool.objects.filter(tenant=None, name=CUSTOMER_ORDERS_TOOL).exists():
        return
    tool_create(
        tenant=None, name=CUSTOMER_ORDERS_TOOL, kind=ToolKind.SQL, actor=actor,
        description="Look up one of the customer's own orders by its id (e.g. 1042) and the customer's id.",
        input_schema=CUSTOMER_ORDERS_INPUT_SCHEMA, timeout_seconds=5, idempotent=True, effect=Effect.READ,
        config={**ORDERS_CONFIG, "query": CUSTOMER_ORDERS_QUERY}, argument_rules=[CUSTOMER_RULE],
    )
    report.append(f"created tool {CUSTOMER_ORDERS_TOOL}")


def _billing_token_secret(tenant: Tenant, actor: Actor, report: list[str]) -> None:
    """The billing endpoint's token as the tenant's secret DEMO_BILLING_TOKEN, which the
    billing.refund tool references (a tenant's tool reads only its tenant's secrets)."""
    token = configured_token()
    if not token:
        return  # the endpoint is off (DEBUG off, no token): the tool's calls fail until both are set
    try:
        if SecretResolver.for_tenant(tenant.pk).get(TOKEN_NAME) == token:
            return
    except SecretError:
        pass  # not set yet (or unreadable under the current keys): set it
    secret_set(tenant=tenant, name=TOKEN_NAME, value=token, actor=actor)
    report.append(f"set the secret {TOKEN_NAME}")


def _billing_tool(tenant: Tenant, actor: Actor, report: list[str]) -> None:
    existing = tool_get(tenant=tenant, name=BILLING_TOOL)
    if existing is not None and existing.tenant_id == tenant.pk:
        # Only the URL follows the environment (PORT, AGENTOPS_PUBLIC_URL); policies an operator
        # changed in the admin are theirs and a re-seed must not undo them.
        if existing.config != billing_tool_config(tenant):
            tool_update(tool=existing, changes={"config": billing_tool_config(tenant)}, actor=actor)
            report.append(f"updated the {BILLING_TOOL} URL")
        return
    tool_create(
        tenant=tenant, name=BILLING_TOOL, kind=ToolKind.HTTP, actor=actor,
        description=("Refund (part of) an order to the customer's original payment method. "
                     "Refunds above 50 need a human's approval first."),
        input_schema=BILLING_INPUT_SCHEMA, output_schema=BILLING_OUTPUT_SCHEMA, config=billing_tool_config(tenant),
        timeout_seconds=10, retry_policy={"max_attempts": 3, "base_delay": 0.5, "max_delay": 5},
        idempotent=True, effect=Effect.WRITE, approval=ApprovalPolicy.WHEN, approval_condition="amount > 50",
        expires_in_seconds=24 * 3600, expiry_action=ExpiryAction.REJECT,
    )
    report.append(f"created tool {BILLING_TOOL}")


def _restricted_user_grants(tenant: Tenant, user, actor: Actor, report: list[str]) -> None:
    """The restricted demo user may use every demo tool but the refund, one object permission each."""
    tools = tool_map(tenant=tenant, names=[name for name in DEMO_TOOL_NAMES if name != BILLING_TOOL])
    for name, tool in sorted(tools.items()):
        if tool_use_grant(tool=tool, user=user, tenant=tenant, actor=actor):
            report.append(f"granted {user.get_username()} the use of {name}")


def shop_agent_config() -> dict:
    return {**support_agent_config(), "system_prompt": SHOP_PROMPT, "tools": list(SHOP_TOOLS), "max_child_depth": 0,
            "memory": {}}


def _shop_agent(tenant: Tenant, users: dict, report: list[str]) -> None:
    """The customer-facing agent: started by the storefront group (the operator) on behalf of a
    customer, whose own orders are all it can look up."""
    customer = users["ada"]
    tools = tool_map(tenant=tenant, names=SHOP_TOOLS)
    for name, tool in sorted(tools.items()):
        if tool_use_grant(tool=tool, user=customer, tenant=tenant, actor=ACTOR):
            report.append(f"granted {customer.get_username()} the use of {name}")
    if Agent.objects.filter(tenant=tenant, slug="shop").exists():
        return
    storefront = _storefront_group(tenant, users["operator"])
    agent = agent_create(tenant=tenant, slug="shop", name="Shop assistant",
                         description="Customer-facing: answers one customer about their own orders.",
                         config=shop_agent_config(), actor=ACTOR, user=users["operator"])
    agent_access_set(agent=agent, restricted=True, users=[], groups=[storefront], actor=ACTOR)
    report.append("created agent shop, restricted to the storefront group")


def _storefront_group(tenant: Tenant, operator) -> Group:
    group, _ = Group.objects.get_or_create(name=STOREFRONT_GROUP)
    TenantGroup.objects.get_or_create(group=group, defaults={"tenant": tenant})
    group.user_set.add(operator)
    return group
