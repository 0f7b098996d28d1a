from __future__ import annotations

from .models import ApiKey, Membership, Tenant


def membership_get(*, user, tenant: Tenant) -> Membership | None:
    if not user or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).select_related("tenant").first()


def membership_list_for_user(*, user):
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def member_get_by_username(*, tenant: Tenant, username: str):
    """The user called `username` if they are a member of `tenant`, else None: a caller cannot tell
    an unknown username from a user of another tenant."""
    membership = Membership.objects.filter(tenant=tenant, user__username=username).select_related("user").first()
    return membership.user if membership else None


def api_key_is_active(*, tenant: Tenant, raw_key: str) -> bool:
    """Whether `raw_key` is an unrevoked key of `tenant` whose user is active (it would authenticate)."""
    return ApiKey.objects.active().filter(tenant=tenant, key_hash=ApiKey.hash_key(raw_key),
                                          user__is_active=True).exists()
