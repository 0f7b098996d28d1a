"""secrets 0002: webhooks keep signing after the upgrade, their secrets copied into their tenants'."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agentops.secrets.crypto import encrypt
from agentops.secrets.models import TenantSecret
from agentops.secrets.resolver import SecretResolver

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


def test_webhook_secrets_read_from_the_environment_become_their_tenants_secrets(monkeypatch):
    # Given, before the migration, webhooks of three tenants: one whose secret is in the
    # environment, one whose secret is nowhere, one whose tenant already has its own value
    old = migrate([("secrets", "0001_initial"), ("webhooks", "0003_pending_index")])
    try:
        tenants = old.get_model("tenancy", "Tenant").objects
        acme, globex, initech = (tenants.create(name=slug, slug=slug) for slug in ("acme", "globex", "initech"))
        hooks = old.get_model("webhooks", "Webhook").objects
        for tenant, name in ((acme, "ACME_HOOK"), (globex, "NOWHERE"), (initech, "ACME_HOOK")):
            hooks.create(tenant_id=tenant.pk, name="ops", url="https://hooks.example.com",
                         secret=f"{{{{ secret:{name} }}}}")
        old.get_model("secrets", "TenantSecret").objects.create(
            tenant_id=initech.pk, name="ACME_HOOK", encrypted_value=encrypt("initech-own-value"))
        monkeypatch.setenv("ACME_HOOK", "whsec-from-env-77aa")

        # When the migration runs
        migrate()

        # Then the value in the environment is the tenant's secret, encrypted; nothing is
        # invented, and a tenant's own value is kept
        assert SecretResolver.for_tenant(acme.pk).get("ACME_HOOK") == "whsec-from-env-77aa"
        assert "whsec-from-env-77aa" not in TenantSecret.objects.get(tenant_id=acme.pk).encrypted_value
        assert not TenantSecret.objects.filter(tenant_id=globex.pk).exists()
        assert SecretResolver.for_tenant(initech.pk).get("ACME_HOOK") == "initech-own-value"
    finally:
        migrate()
