"""Secrets in the admin: the value is written through the services and never shown back."""

from agentops.audit.models import AuditEvent
from agentops.secrets.models import TenantSecret
from agentops.secrets.resolver import SecretResolver

VALUE = "admin-typed-value-9c1e55"


def test_a_secret_added_in_the_admin_is_encrypted_audited_and_never_shown(admin_client, tenant):
    response = admin_client.post("/admin/secrets/tenantsecret/add/",
                                 {"tenant": tenant.pk, "name": "CRM_TOKEN", "value": VALUE})

    assert response.status_code == 302
    secret = TenantSecret.objects.get()
    assert SecretResolver.for_tenant(tenant.pk).get("CRM_TOKEN") == VALUE
    assert AuditEvent.objects.filter(tenant=tenant, action="secret.created").count() == 1
    page = admin_client.get(f"/admin/secrets/tenantsecret/{secret.pk}/change/").content.decode()
    assert VALUE not in page and secret.encrypted_value not in page and 'type="password"' in page


def test_saving_the_change_page_without_a_value_keeps_the_secret(admin_client, tenant):
    admin_client.post("/admin/secrets/tenantsecret/add/", {"tenant": tenant.pk, "name": "CRM_TOKEN", "value": VALUE})
    secret = TenantSecret.objects.get()

    admin_client.post(f"/admin/secrets/tenantsecret/{secret.pk}/change/", {"value": ""})

    assert SecretResolver.for_tenant(tenant.pk).get("CRM_TOKEN") == VALUE
    assert not AuditEvent.objects.filter(action="secret.replaced").exists()


def test_a_new_secret_without_a_value_is_refused(admin_client, tenant):
    response = admin_client.post("/admin/secrets/tenantsecret/add/", {"tenant": tenant.pk, "name": "CRM_TOKEN"})

    assert response.status_code == 200 and "A new secret needs a value." in response.content.decode()
    assert not TenantSecret.objects.exists()


def test_deleting_in_the_admin_is_audited(admin_client, tenant):
    admin_client.post("/admin/secrets/tenantsecret/add/", {"tenant": tenant.pk, "name": "CRM_TOKEN", "value": VALUE})
    secret = TenantSecret.objects.get()

    admin_client.post(f"/admin/secrets/tenantsecret/{secret.pk}/delete/", {"post": "yes"})

    assert not TenantSecret.objects.exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="secret.deleted").count() == 1
