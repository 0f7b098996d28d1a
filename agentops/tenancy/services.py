"""Writes for tenants, memberships and API keys; each one transaction, each audited.

Tenants and memberships are configuration runs read through agentops.config_cache (a tenant's
cost limit, a member's role): their writes invalidate it when they commit. API keys are not cached.
"""

from __future__ import annotations

import json
import re
import secrets

from django.db import transaction
from django.utils import timezone

from agentops import config_cache
from agentops.audit.services import Actor, audit_diff, audit_record

from .models import ApiKey, ApiKeyScope, Membership, Tenant
from .roles import Role


class TenancyError(Exception):
    pass


# What an owner may change on a tenant; the slug names it everywhere (keys, commands) and stays.
TENANT_SETTINGS = (
    "name", "daily_cost_limit", "monthly_cost_limit", "budget_policy", "allow_self_approval",
    "payload_retention_days", "api_rate_read_per_minute", "api_rate_write_per_minute",
)


def tenant_create(*, name: str, slug: str, actor: Actor, **settings) -> Tenant:
    """Create a tenant; `settings` may set any of TENANT_SETTINGS other than the name."""
    _check_tenant_settings(settings)
    with transaction.atomic():
        tenant = Tenant.objects.create(name=name, slug=slug, **settings)
        audit_record(tenant=tenant, action="tenant.created", actor=actor, target=tenant,
                     data={"name": name, **settings})
        config_cache.invalidate()
        return tenant


def tenant_update(*, tenant: Tenant, actor: Actor, **settings) -> Tenant:
    """Change some of TENANT_SETTINGS. Audited with the before/after of what actually changed.

    These settings loosen controls (a higher cost limit, approving one's own requests), so a change
    must never go unrecorded: the tenant row is locked while it is compared and written.
    """
    _check_tenant_settings(settings)
    with transaction.atomic():
        stored = Tenant.objects.select_for_update().get(pk=tenant.pk)
        changed = {name: value for name, value in settings.items() if getattr(stored, name) != value}
        if changed:
            before = {name: getattr(stored, name) for name in changed}
            Tenant.objects.filter(pk=stored.pk).update(**changed)
            audit_record(tenant=stored, action="tenant.changed", actor=actor, target=stored,
                         changes=audit_diff(before, changed))
            config_cache.invalidate()  # an update() sends no signal: runs see the new limits by this
    tenant.refresh_from_db()
    return tenant


def _check_tenant_settings(settings: dict) -> None:
    unknown = set(settings) - set(TENANT_SETTINGS)
    if unknown:
        raise TenancyError(f"unknown tenant settings: {', '.join(sorted(unknown))}")


def membership_set(*, tenant: Tenant, user, role: str, actor: Actor, attributes: dict | None = None) -> Membership:
    """Add `user` to `tenant` with `role` (and `attributes`), or change their role (and, unless
    None, their attributes). Audited with the before/after."""
    if role not in Role.values:
        raise TenancyError(f"unknown role {role!r}; roles: {', '.join(Role.values)}")
    problems = attributes_errors(attributes) if attributes is not None else []
    if problems:
        raise TenancyError(" ".join(problems))
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        if membership is None:
            membership = Membership.objects.create(tenant=tenant, user=user, role=role, attributes=attributes or {})
            audit_record(tenant=tenant, action="membership.created", actor=actor, target=membership,
                         data={"user": user.get_username(), "role": role,
                               **({"attributes": attributes} if attributes else {})})
            config_cache.invalidate()
            return membership
        if membership.role != role:
            before = membership.role
            membership.role = role
            membership.save(update_fields=["role"])
            audit_record(tenant=tenant, action="membership.role_changed", actor=actor, target=membership,
                         changes=audit_diff({"role": before}, {"role": role}))
            config_cache.invalidate()
        if attributes is not None and membership.attributes != attributes:
            before = membership.attributes
            membership.attributes = attributes
            membership.save(update_fields=["attributes"])
            audit_record(tenant=tenant, action="membership.attributes_changed", actor=actor, target=membership,
                         data={"user": user.get_username()}, changes=audit_diff(before, attributes))
            config_cache.invalidate()  # tool rules read them through the cache
        return membership


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_ATTRIBUTES_BYTES = 4096


def attributes_errors(attributes) -> list[str]:
    """What is wrong with a membership's `attributes`: a JSON object whose keys rules can name
    (user.attributes.customer_id), small enough to read on every tool call."""
    if not isinstance(attributes, dict):
        return ['Attributes are a JSON object, e.g. {"customer_id": "C-1001"}.']
    bad = sorted(key for key in attributes if not ATTRIBUTE_NAME.match(key))
    if bad:
        return [f"Attribute names are a letter then letters, digits or underscores (64 at most): "
                f"{', '.join(map(repr, bad))}."]
    if len(json.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        return [f"Attributes may take {MAX_ATTRIBUTES_BYTES} bytes of JSON at most."]
    return []


def membership_remove(*, membership: Membership, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(tenant=membership.tenant, action="membership.removed", actor=actor, target=membership,
                     data={"user": membership.user.get_username(), "role": membership.role})
        membership.delete()
        config_cache.invalidate()


def api_key_create(*, tenant: Tenant, user, name: str, scopes: list[str], actor: Actor) -> tuple[ApiKey, str]:
    """Create a key acting as `user`; returns (key, raw key). The raw key is never stored."""
    unknown = set(scopes) - set(ApiKeyScope.values)
    if unknown:
        raise TenancyError(f"unknown scopes: {', '.join(sorted(unknown))}; known: {', '.join(ApiKeyScope.values)}")
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise TenancyError(f"{user.get_username()} is not a member of {tenant.slug}")
    raw_key = "ak_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            tenant=tenant,
            user=user,
            name=name,
            prefix=raw_key[: ApiKey.PREFIX_LENGTH],
            key_hash=ApiKey.hash_key(raw_key),
            scopes=sorted(set(scopes)),
            created_by=user if actor.type == "user" and actor.id == str(user.pk) else None,
        )
        audit_record(tenant=tenant, action="api_key.created", actor=actor, target=key,
                     data={"name": name, "prefix": key.prefix, "scopes": key.scopes, "user": user.get_username()})
    return key, raw_key


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated != 1:
            raise TenancyError(f"API key {api_key.prefix}… is already revoked")
        audit_record(tenant=api_key.tenant, action="api_key.revoked", actor=actor, target=api_key,
                     data={"prefix": api_key.prefix})
    api_key.refresh_from_db()
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, with its last use recorded; None when unknown or revoked."""
    key = (
        ApiKey.objects.active()
        .select_related("tenant", "user")
        .filter(key_hash=ApiKey.hash_key(raw_key))
        .first()
    )
    if key is None or not key.user.is_active:
        return None
    now = timezone.now()
    # Record last use at most once a minute: a hot key must not turn every request into a write.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
