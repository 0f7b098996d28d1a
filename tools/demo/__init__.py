"""Demo content: Python tools over small demo tables, and a billing endpoint for the HTTP tool.

`tools.demo.seed` fills the tables and registers the tools for the demo tenant; `seed_demo` runs it.
"""

# The tools the demo's support agent is granted, in the order the model is offered them.
DEMO_TOOL_NAMES = ("kb.search", "crm.lookup_customer", "orders.lookup", "billing.refund", "tickets.create")
