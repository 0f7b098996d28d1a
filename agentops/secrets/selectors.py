"""Reads of tenants' secrets, always scoped to one tenant. Only the resolver decrypts."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import TenantSecret


def secret_list(*, tenant) -> QuerySet[TenantSecret]:
    return TenantSecret.objects.filter(tenant=tenant).select_related("updated_by").order_by("name")


def secret_get(*, tenant, name: str) -> TenantSecret | None:
    return secret_list(tenant=tenant).filter(name=name).first()


def secret_token(*, tenant_id: int, name: str) -> str | None:
    """The encrypted value of the tenant's secret `name`, for the resolver to decrypt."""
    return TenantSecret.objects.filter(tenant_id=tenant_id, name=name).values_list("encrypted_value", flat=True).first()
