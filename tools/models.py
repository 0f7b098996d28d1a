"""The tool registry: one row per tool an agent can be granted.

A tool is global (`tenant` empty: every tenant sees it) or belongs to one tenant. A tenant tool
shadows a global tool of the same name, for that tenant only; this is also how a tenant sets its
own policies for a global tool (see `tools.services.tool_update`).

Python tools ("code tools") are declared with `@tool` in code and synced into global rows by
`tools.services.tool_sync`; code owns their definition (description, schemas, effect, idempotency),
the row owns their policies (approval, enabled, timeout, retries).

The checks of a tool beyond its fields' validators (schemas, adapter configuration, approval
condition) are `tools.validation.tool_errors`, which the services, the admin form and the API run
before saving: they need the adapters and the policy module, which build on this one.
"""

from __future__ import annotations

import re

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

# Segments of lower-case words joined by single underscores, separated by dots: "crm.lookup_customer".
# No double underscore inside a name, so the wire form (dots as "__", see `wire_name`) maps back.
NAME_PATTERN = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)*$"
NAME_MAX_LENGTH = 64  # model APIs cap function names at 64 characters, and the wire form is longer
# Read by the model on every call that offers the tool: a few paragraphs at most.
DESCRIPTION_MAX_LENGTH = 8000
WIRE_SEPARATOR = "__"


def wire_name(name: str) -> str:
    """The name as offered to a model: OpenAI function names may not contain dots."""
    return name.replace(".", WIRE_SEPARATOR)


def name_from_wire(name: str) -> str:
    """A registry name from a wire name; a registry name passes through unchanged."""
    return name.replace(WIRE_SEPARATOR, ".")


class ToolKind(models.TextChoices):
    PYTHON = "python", "Python function"
    HTTP = "http", "HTTP / REST"
    GRAPHQL = "graphql", "GraphQL"
    SQL = "sql", "SQL (read-only)"
    MCP = "mcp", "MCP server tool"
    GRPC = "grpc", "gRPC"


class Effect(models.TextChoices):
    READ = "read", "Reads only"
    WRITE = "write", "Changes data"
    DESTRUCTIVE = "destructive", "Destroys data or moves money irreversibly"


class ApprovalPolicy(models.TextChoices):
    NEVER = "never", "Never"
    ALWAYS = "always", "Always"
    WHEN = "when", "When the condition holds"


# The approval policy's vocabulary is copied onto the approval requests a tool causes, so the
# approvals app (a layer above) takes its choices from here: one set of choices for both.
class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ExpiryAction(models.TextChoices):
    WAIT = "wait", "Wait indefinitely"
    REJECT = "reject", "Reject"
    ESCALATE = "escalate", "Escalate"


# Fields a tool's code owns for Python tools; everything else on a code tool is a policy.
DEFINITION_FIELDS = ("description", "input_schema", "output_schema", "kind", "config", "idempotent", "effect")
POLICY_FIELDS = (
    "enabled", "timeout_seconds", "retry_policy", "argument_rules",
    "approval", "approval_condition", "required_approvals", "approver_group",
    "expires_in_seconds", "expiry_action", "escalation_group",
)
EDITABLE_FIELDS = DEFINITION_FIELDS + POLICY_FIELDS
RETRY_POLICY_KEYS = ("max_attempts", "base_delay", "max_delay")


def empty_object_schema() -> dict:
    return {"type": "object", "properties": {}}


class ToolQuerySet(models.QuerySet):
    def visible_to(self, tenant):
        """Global tools and `tenant`'s own, shadowed globals included (see `tools.selectors`)."""
        return self.filter(models.Q(tenant=tenant) | models.Q(tenant__isnull=True))


class Tool(models.Model):
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="tools",
        help_text="Empty: a global tool every tenant sees (a tenant tool of the same name shadows it).",
    )
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[RegexValidator(NAME_PATTERN, "Use lower-case words joined by dots, e.g. crm.lookup_customer.")],
    )
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH,
                                   help_text="What the tool does, for the model: when to use it and what it returns.")
    input_schema = models.JSONField(default=empty_object_schema, help_text="JSON Schema of the arguments (an object).")
    output_schema = models.JSONField(null=True, blank=True,
                                     help_text="Optional JSON Schema results are checked against.")
    kind = models.CharField(max_length=20, choices=ToolKind.choices)
    config = models.JSONField(
        default=dict, blank=True,
        help_text="Adapter configuration. Secrets only as references: {{ secret:NAME }}.",
    )
    timeout_seconds = models.FloatField(default=30.0, validators=[MinValueValidator(0.1)],
                                        help_text="Per attempt.")
    retry_policy = models.JSONField(
        default=dict, blank=True,
        help_text='{"max_attempts": 3, "base_delay": 0.5, "max_delay": 30}; empty for the defaults.',
    )
    idempotent = models.BooleanField(
        default=False,
        help_text="Repeating a call with the same idempotency key has no further effect, so a call that may "
        "have taken effect (a timeout, a dropped connection, a 5xx, a crash during the call) is sent again "
        "with the same key. Unticked, the call is sent again only when it cannot have taken effect "
        "(the connection was refused, the tool answered 429); otherwise it goes in doubt and a person decides.",
    )
    effect = models.CharField(max_length=20, choices=Effect.choices, default=Effect.READ)

    argument_rules = models.JSONField(
        default=list, blank=True,
        help_text="Rules every call must keep, checked before it is made: expressions over arguments, the run's "
                  'user and the run, e.g. ["arguments.customer_id == user.attributes.customer_id"].',
    )

    approval = models.CharField(max_length=10, choices=ApprovalPolicy.choices, default=ApprovalPolicy.NEVER)
    approval_condition = models.CharField(
        max_length=500, blank=True,
        help_text="With approval 'when': an expression over the arguments, e.g. amount > 100.",
    )
    required_approvals = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    approver_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Who may decide; empty: any member whose role may decide approvals.",
    )
    expires_in_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: requests do not expire.")
    expiry_action = models.CharField(max_length=10, choices=ExpiryAction.choices, default=ExpiryAction.WAIT)
    escalation_group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")

    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ToolQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tool_name_unique_per_tenant"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(tenant__isnull=True),
                                    name="tool_name_unique_globally"),
        ]
        permissions = [("use_tool", "Can have agents use this tool")]

    def __str__(self):
        return self.name if self.tenant_id is None else f"{self.name} ({self.tenant})"

    @property
    def is_code(self) -> bool:
        return self.kind == ToolKind.PYTHON

    @property
    def is_global(self) -> bool:
        return self.tenant_id is None

    @property
    def wire_name(self) -> str:
        return wire_name(self.name)

    def snapshot(self) -> dict:
        """The editable fields as JSON-friendly values, for audit diffs."""
        data = {name: getattr(self, name) for name in EDITABLE_FIELDS}
        data["approver_group"] = self.approver_group_id  # ids, not the Group rows
        data["escalation_group"] = self.escalation_group_id
        return data


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX_LENGTH and re.match(NAME_PATTERN, name) is not None
