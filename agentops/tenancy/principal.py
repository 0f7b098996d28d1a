"""Who is acting, for which tenant: resolved once per request.

Every read and write below the views is scoped by a `Principal`: the tenant comes from the API key
or from the session's chosen tenant, never from the request body.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import ApiKey, Membership, Tenant
from .roles import role_grants


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    user: object
    membership: Membership
    api_key: ApiKey | None = None

    def can(self, permission: str, scope: str | None = None) -> bool:
        """The user's role grants `permission` and, for an API key, the key holds `scope`."""
        if not role_grants(self.membership.role, permission):
            return False
        if self.api_key is not None and scope is not None:
            return self.api_key.has_scope(scope)
        return True
