"""Values are stored encrypted under AGENTOPS_SECRET_KEYS, and keys rotate."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.secrets.models import TenantSecret
from agentops.secrets.resolver import SecretError, SecretResolver
from agentops.secrets.services import secret_set

ACTOR = Actor.system("test")
VALUE = "orders-db-password-71f3a9"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored_column(secret) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_value FROM secrets_tenantsecret WHERE id = %s", [secret.pk])
        return cursor.fetchone()[0]


def test_the_column_holds_a_token_not_the_value(tenant):
    secret, _ = secret_set(tenant=tenant, name="ORDERS_DB", value=VALUE, actor=ACTOR)

    column = stored_column(secret)

    assert VALUE not in column and "71f3a9" not in column
    assert SecretResolver.for_tenant(tenant.pk).get("ORDERS_DB") == VALUE


def test_rotation_reencrypts_with_the_first_key_and_old_values_decrypt_until_then(tenant, settings):
    # Given a value encrypted under the old key
    settings.AGENTOPS_SECRET_KEYS = [OLD_KEY]
    secret, _ = secret_set(tenant=tenant, name="ORDERS_DB", value=VALUE, actor=ACTOR)
    before = stored_column(secret)

    # When a new key is put first, the old value still decrypts
    settings.AGENTOPS_SECRET_KEYS = [NEW_KEY, OLD_KEY]
    assert SecretResolver.for_tenant(tenant.pk).get("ORDERS_DB") == VALUE

    # and after `secrets rotate` the new key alone opens it
    out = StringIO()
    call_command("secrets", "rotate", stdout=out)
    settings.AGENTOPS_SECRET_KEYS = [NEW_KEY]

    assert "re-encrypted 1 secrets" in out.getvalue()
    assert stored_column(secret) != before
    assert SecretResolver.for_tenant(tenant.pk).get("ORDERS_DB") == VALUE
    event = AuditEvent.objects.get(tenant=tenant, action="secret.rotated")
    assert event.data == {"names": ["ORDERS_DB"]}


def test_a_value_under_a_dropped_key_is_an_error_naming_the_secret(tenant, settings):
    settings.AGENTOPS_SECRET_KEYS = [OLD_KEY]
    secret_set(tenant=tenant, name="ORDERS_DB", value=VALUE, actor=ACTOR)
    settings.AGENTOPS_SECRET_KEYS = [NEW_KEY]

    with pytest.raises(SecretError, match="'ORDERS_DB' cannot be decrypted"):
        SecretResolver.for_tenant(tenant.pk).get("ORDERS_DB")
    assert TenantSecret.objects.count() == 1


def test_a_check_warns_without_keys_when_debug_is_off(settings):
    settings.AGENTOPS_SECRET_KEYS, settings.DEBUG = [], False
    assert "agentops.secrets.W001" in {message.id for message in run_checks()}

    settings.AGENTOPS_SECRET_KEYS = [NEW_KEY]
    assert "agentops.secrets.W001" not in {message.id for message in run_checks()}
