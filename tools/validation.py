"""Checks of a Tool's fields before it is saved, shared by the admin, the API and the services.

Runs without the network and without secrets: schemas against their meta-schema, the adapter's
`validate_config` and `validate_owner` (what a tenant's tool may reach), a tenant's tool's address as
written (agentops.outbound), the approval condition and the argument rules against the argument
names, the retry policy's shape.
They are not `Tool.clean()` because they need the adapters and the policy module, which build on
`tools.models`; the fields' own validators (the name's pattern, minimum values) stay on the model.
"""

from __future__ import annotations

from agentops.outbound import literal_refusal
from agentops.tenancy.models import TenantGroup
from tools.adapters import ADAPTERS
from tools.models import NAME_MAX_LENGTH, RETRY_POLICY_KEYS, ApprovalPolicy, ExpiryAction, Tool, wire_name
from tools.policy import MAX_RULES, ConditionError, condition_check, rule_check
from tools.schemas import object_schema_errors, schema_errors, summary_keyword_errors


def tool_errors(tool: Tool) -> dict[str, list[str]]:
    """{field: [message, ...]} for every problem found; empty when the tool can be saved."""
    errors: dict[str, list[str]] = {}
    for field, messages in (
        ("name", _name_errors(tool.name)),
        ("input_schema", object_schema_errors(tool.input_schema) or summary_keyword_errors(tool.input_schema)),
        ("output_schema", schema_errors(tool.output_schema) if tool.output_schema is not None else []),
        ("config", _config_errors(tool) or _outbound_errors(tool)),
        ("retry_policy", _retry_policy_errors(tool.retry_policy)),
        ("approval_condition", _condition_errors(tool)),
        ("argument_rules", _rule_errors(tool)),
        ("expiry_action", _expiry_errors(tool)),
        ("approver_group", _group_errors(tool, tool.approver_group_id)),
        ("escalation_group", _group_errors(tool, tool.escalation_group_id)),
    ):
        if messages:
            errors[field] = messages
    return errors


def _name_errors(name: str) -> list[str]:
    if name and len(wire_name(name)) > NAME_MAX_LENGTH:
        return [f"Too long: with its dots written as '__' the name must fit in {NAME_MAX_LENGTH} characters."]
    return []


def _config_errors(tool: Tool) -> list[str]:
    adapter = ADAPTERS.get(tool.kind)
    if adapter is None:
        return [f"No adapter for the kind {tool.kind!r}."] if tool.kind else []
    try:
        adapter.validate_config(tool.config)
        adapter.validate_owner(tool.config, tenant_tool=tool.tenant_id is not None)
    except ValueError as exc:
        return [str(exc)]
    return []


def _outbound_errors(tool: Tool) -> list[str]:
    """A tenant's tool may not name an address tenants may not reach (agentops.outbound), as far as
    can be told without DNS; the check at connect time is the real guard. Global tools are the
    platform's, and may (see agentops.outbound)."""
    adapter = ADAPTERS.get(tool.kind)
    if tool.is_global or adapter is None:
        return []
    try:
        target = adapter.outbound_target(tool.config)
    except ValueError as exc:
        return [str(exc)]
    refusal = literal_refusal(*target) if target else None
    return [refusal] if refusal else []


def _retry_policy_errors(policy) -> list[str]:
    if not isinstance(policy, dict):
        return ["The retry policy must be a JSON object."]
    unknown = sorted(set(policy) - set(RETRY_POLICY_KEYS))
    if unknown:
        return [f"Unknown keys {', '.join(unknown)}; known: {', '.join(RETRY_POLICY_KEYS)}."]
    bad = sorted(key for key, value in policy.items()
                 if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0)
    if bad:
        return [f"{', '.join(bad)} must be non-negative numbers."]
    if "max_attempts" in policy and not 1 <= policy["max_attempts"] <= 10:
        return ["max_attempts must be between 1 and 10."]
    return []


def _condition_errors(tool: Tool) -> list[str]:
    condition = (tool.approval_condition or "").strip()
    if tool.approval != ApprovalPolicy.WHEN:
        return ["Leave the condition empty unless approval is 'when'."] if condition else []
    if not condition:
        return ["Approval 'when' needs a condition, e.g. amount > 100."]
    try:
        condition_check(condition, names=_argument_names(tool))
    except ConditionError as exc:
        return [str(exc)]
    return []


def _argument_names(tool: Tool) -> list[str] | None:
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else None


def _rule_errors(tool: Tool) -> list[str]:
    rules = tool.argument_rules
    if not isinstance(rules, list) or not all(isinstance(rule, str) for rule in rules):
        return ['Argument rules are a list of expressions, e.g. ["arguments.customer_id == '
                'user.attributes.customer_id"].']
    if len(rules) > MAX_RULES:
        return [f"At most {MAX_RULES} argument rules."]
    errors = []
    for rule in rules:
        try:
            rule_check(rule, names=_argument_names(tool))
        except ConditionError as exc:
            errors.append(f"{rule}: {exc}")
    return errors


def _expiry_errors(tool: Tool) -> list[str]:
    if tool.expiry_action == ExpiryAction.WAIT:
        return []
    if not tool.expires_in_seconds:
        return [f"Expiry action '{tool.expiry_action}' needs an expiry (expires in seconds)."]
    if tool.expiry_action == ExpiryAction.ESCALATE and tool.escalation_group_id is None:
        return ["Expiry action 'escalate' needs an escalation group."]
    return []


def _group_errors(tool: Tool, group_id: int | None) -> list[str]:
    """A tenant's tool names only its own tenant's groups: another tenant's group would let that
    tenant's people decide, and would tell whoever names it that the group exists."""
    if group_id is None or tool.is_global:
        return []
    if TenantGroup.objects.filter(group_id=group_id, tenant_id=tool.tenant_id).exists():
        return []
    return [f"No group with id {group_id} in this tenant."]
