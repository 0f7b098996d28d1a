"""Reads of the tool registry, always for one tenant: its own tools plus the global ones it does
not shadow. Another tenant's tools are never visible."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, QuerySet
from guardian.core import ObjectPermissionChecker

from agentops.tenancy.models import Tenant
from agentops.tenancy.selectors import membership_get

from .models import Tool, name_from_wire


def tool_list(*, tenant: Tenant) -> QuerySet[Tool]:
    """The tools `tenant` sees, by name: a tenant tool replaces the global tool of its name."""
    shadowed = Tool.objects.filter(tenant=tenant, name=OuterRef("name"))
    return (
        Tool.objects.visible_to(tenant)
        .exclude(Exists(shadowed), tenant__isnull=True)
        .select_related("tenant", "approver_group", "escalation_group")
        .order_by("name")
    )


def tool_get(*, tenant: Tenant, name: str) -> Tool | None:
    """The tool called `name` (registry or wire name) for `tenant`, its own before the global one; or None."""
    return tool_list(tenant=tenant).filter(name=name_from_wire(name)).first()


def agent_tools_errors(*, tenant: Tenant, config: dict) -> dict[str, list[str]]:
    """An agent version's check (agentops.agents.validation): it grants tools `tenant` has."""
    names = config.get("tools")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return {"tools": ['A list of tool names, e.g. ["orders.lookup", "billing.refund"].']}
    known = tool_map(tenant=tenant, names=names)
    unknown = [name for name in names if name_from_wire(name) not in known]
    if not unknown:
        return {}
    return {"tools": [f"No tool named {', '.join(unknown)} in this tenant (its own tools and the global ones)."]}


def tool_map(*, tenant: Tenant, names) -> dict[str, Tool]:
    """{registry name: tool} for those of `names` that `tenant` sees, in one query.

    Read at the start of every run, so without tool_list's subquery and joins: the global tools
    come first and the tenant's own replace those they shadow.
    """
    wanted = [name_from_wire(name) for name in names]
    tools = Tool.objects.visible_to(tenant).filter(name__in=wanted).order_by(F("tenant_id").asc(nulls_first=True))
    return {tool.name: tool for tool in tools}


def user_may_use_tool(*, user, tenant: Tenant, tool: Tool) -> bool:
    """A member of `tenant` whose role grants `use_tools`, or who holds `tools.use_tool` on this
    tool row (directly or through a group). A global tool's object permission counts in every
    tenant the user belongs to; a tenant tool shadowing it needs its own."""
    if user is None or not user.is_active:
        return False
    membership = membership_get(user=user, tenant=tenant)
    if membership is None:
        return False
    if membership.grants("use_tools"):
        return True
    return ObjectPermissionChecker(user).has_perm("use_tool", tool)
