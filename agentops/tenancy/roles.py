"""Tenant roles and the permissions each grants.

Permissions are plain names checked with `Membership.grants(...)`; tool use can also be granted
per tool with the django-guardian object permission `tools.use_tool`. In the Django admin, a staff
member who is not a superuser may do in each tenant what their role grants there, and nothing
else (agentops.admin.TenantScopedAdminMixin).

| permission          | what it allows                                                   |
|---------------------|------------------------------------------------------------------|
| view                | read agents, runs, traces, tools and approvals of the tenant      |
| run_agents          | start and cancel runs                                             |
| use_tools           | have agents use every tool of the tenant on one's behalf          |
| decide_approvals    | approve or reject approval requests                               |
| resolve_runs        | decide in-doubt steps, retry failed runs                          |
| manage_agents       | create agents and new agent versions                              |
| manage_tools        | register tools, change adapters and policies                      |
| manage_members      | add members and change roles                                      |
| manage_api_keys     | create and revoke API keys                                        |
| manage_webhooks     | add, change and remove the tenant's webhooks                      |
| view_audit          | read the audit log                                                |
| manage_budgets      | set cost budgets, decide budget approvals                         |
| hold_runs           | put runs on legal hold (kept whole whatever the retention)        |
| manage_memory       | read and change every user's memory items, forget a user or thread |
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    OPERATOR = "operator", "Operator"
    APPROVER = "approver", "Approver"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


ALL_PERMISSIONS = frozenset(
    {
        "view",
        "run_agents",
        "use_tools",
        "decide_approvals",
        "resolve_runs",
        "manage_agents",
        "manage_tools",
        "manage_members",
        "manage_api_keys",
        "manage_webhooks",
        "view_audit",
        "manage_budgets",
        "hold_runs",

        "manage_memory",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: ALL_PERMISSIONS,
    Role.OPERATOR: frozenset({"view", "run_agents", "use_tools", "resolve_runs", "view_audit"}),
    Role.APPROVER: frozenset({"view", "decide_approvals"}),
    Role.DEVELOPER: frozenset({"view", "run_agents", "use_tools", "manage_agents", "manage_tools", "view_audit"}),
    Role.VIEWER: frozenset({"view"}),
}


def role_grants(role: str, permission: str) -> bool:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
