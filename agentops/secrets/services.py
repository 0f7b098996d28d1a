"""Writes of tenants' secrets. Each one transaction, audited in it by name: no audit event, log
line or error message ever holds a value."""

from __future__ import annotations

from django.db import transaction

from agentops.audit.services import Actor, audit_record
from agentops.tenancy.models import Tenant

from .crypto import encrypt, fernet
from .errors import SecretInvalid
from .models import VALUE_MAX_BYTES, TenantSecret, last_four
from .references import NAME_MAX_LENGTH, valid_name


def secret_check(*, name: str, value: str | None = None) -> None:
    """Raise SecretInvalid unless `name` (and `value`, when given) may be stored."""
    if not valid_name(name):
        raise SecretInvalid("invalid_name", f"A secret name is a letter or '_' followed by letters, digits, '_', '.' "
                                            f"or '-', at most {NAME_MAX_LENGTH} characters, e.g. CRM_TOKEN.")
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise SecretInvalid("invalid_value", "The value must be a non-empty string.")
    if len(value.encode()) > VALUE_MAX_BYTES:
        raise SecretInvalid("value_too_large", f"The value is longer than {VALUE_MAX_BYTES} bytes.")


def secret_set(*, tenant: Tenant, name: str, value: str, actor: Actor, user=None) -> tuple[TenantSecret, bool]:
    """Create or replace `tenant`'s secret `name`; returns (secret, created). Raises SecretInvalid.

    Locks the existing row, so two concurrent replacements are audited in the order they apply.
    Audited as `secret.created` or `secret.replaced`, with the name only.
    """
    secret_check(name=name, value=value)
    fields = {"encrypted_value": encrypt(value), "last_four": last_four(value), "updated_by": user}
    with transaction.atomic():
        secret = TenantSecret.objects.select_for_update().filter(tenant=tenant, name=name).first()
        created = secret is None
        if created:
            secret = TenantSecret.objects.create(tenant=tenant, name=name, **fields)
        else:
            for field, field_value in fields.items():
                setattr(secret, field, field_value)
            secret.save()
        _audit(secret, "secret.created" if created else "secret.replaced", actor)
    return secret, created


def secret_delete(*, tenant: Tenant, name: str, actor: Actor) -> bool:
    """Delete `tenant`'s secret `name`; False when there was none. Audited as `secret.deleted`."""
    with transaction.atomic():
        secret = TenantSecret.objects.select_for_update().filter(tenant=tenant, name=name).first()
        if secret is None:
            return False
        _audit(secret, "secret.deleted", actor)
        secret.delete()
    return True


def secret_rotate_all(*, actor: Actor) -> int:
    """Re-encrypt every stored value with the first key of AGENTOPS_SECRET_KEYS; returns how many.

    One transaction per tenant, each audited as one `secret.rotated` event naming its secrets.
    Raises cryptography's InvalidToken (nothing of that tenant changed) when a value opens with
    none of the configured keys.
    """
    keys = fernet()
    count = 0
    for tenant in Tenant.objects.filter(secrets__isnull=False).distinct().order_by("pk"):
        with transaction.atomic():
            secrets = list(TenantSecret.objects.select_for_update().filter(tenant=tenant).order_by("name"))
            for secret in secrets:
                secret.encrypted_value = keys.rotate(secret.encrypted_value.encode("ascii")).decode("ascii")
            TenantSecret.objects.bulk_update(secrets, ["encrypted_value"])
            audit_record(tenant=tenant, action="secret.rotated", actor=actor,
                         data={"names": [secret.name for secret in secrets]})
        count += len(secrets)
    return count


def _audit(secret: TenantSecret, action: str, actor: Actor) -> None:
    audit_record(tenant=secret.tenant, action=action, actor=actor, target=secret, data={"name": secret.name})
