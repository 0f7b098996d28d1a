from __future__ import annotations

from .models import ApiKey, Membership, Tenant, TenantGroup


def membership_get(*, user, tenant: Tenant) -> Membership | None:
    if not user or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).select_related("tenant").first()


def membership_list_for_user(*, user):
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def membership_list_for_tenant(*, tenant: Tenant):
    return Membership.objects.filter(tenant=tenant).select_related("user", "tenant").order_by("user__username")


def member_get_by_username(*, tenant: Tenant, username: str):
    """The user called `username` if they are a member of `tenant`, else None: a caller cannot tell
    an unknown username from a user of another tenant."""
    membership = Membership.objects.filter(tenant=tenant, user__username=username).select_related("user").first()
    return membership.user if membership else None


def member_attributes_get(*, tenant_id: int, user_id: int) -> dict:
    """The attributes of the user's membership in this tenant (never another tenant's); {} when
    they are not a member."""
    attributes = Membership.objects.filter(tenant_id=tenant_id, user_id=user_id).values_list(
        "attributes", flat=True).first()
    return attributes if isinstance(attributes, dict) else {}


def tenant_group_get(*, tenant: Tenant, name: str):
    """The tenant's group called `name`, or None (another tenant's or the platform's is not found)."""
    link = TenantGroup.objects.filter(tenant=tenant, group__name=name).select_related("group").first()
    return link.group if link else None


def api_key_is_active(*, tenant: Tenant, raw_key: str) -> bool:
    """Whether `raw_key` is an unrevoked key of `tenant` whose user is active (it would authenticate)."""
    return ApiKey.objects.active().filter(tenant=tenant, key_hash=ApiKey.hash_key(raw_key),
                                          user__is_active=True).exists()
