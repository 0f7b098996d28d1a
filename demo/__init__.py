"""The demo: a support agent's tools over small demo tables, a billing endpoint for its HTTP tool,
and `manage.py seed_demo`, which fills a demo tenant with all of it.

A Django app of its own on top of the others, installed unless AGENTOPS_DEMO is off; nothing
below it imports it.
"""

# The tools the demo's support agent is granted, in the order the model is offered them.
DEMO_TOOL_NAMES = ("kb.search", "crm.lookup_customer", "orders.lookup", "billing.refund", "tickets.create")
