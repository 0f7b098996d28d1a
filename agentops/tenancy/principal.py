"""Who is acting, for which tenant: resolved once per request.

Every read and write below the views is scoped by a `Principal`: the tenant comes from the API key
or from the session's chosen tenant, never from the request body.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import ApiKey, Membership, Tenant
from .roles import role_grants


# The API key scope each permission needs when a key, rather than a browser session, acts.
PERMISSION_SCOPES = {
    "view": "read",
    "view_audit": "read",
    "run_agents": "runs:write",
    "use_tools": "runs:write",
    "resolve_runs": "runs:write",
    "decide_approvals": "approvals:write",
    "manage_tools": "tools:write",
    "manage_agents": "agents:write",
    "manage_memory": "memory:write",
}


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    user: object
    membership: Membership
    api_key: ApiKey | None = None

    def can(self, permission: str, scope: str | None = None) -> bool:
        """The user's role grants `permission` and, for an API key, the key holds `scope`
        (by default the scope that goes with the permission; none for managing members or keys:
        a key changes members' attributes only where an endpoint names `members:write`, and never
        their roles or keys)."""
        if not role_grants(self.membership.role, permission):
            return False
        if self.api_key is None:
            return True
        scope = scope or PERMISSION_SCOPES.get(permission)
        return scope is not None and self.api_key.has_scope(scope)
