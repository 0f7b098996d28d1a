"""The tenancy admin goes through the services, so every change it makes is checked and audited."""

import pytest

from agentops.audit.models import AuditEvent
from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor
from agentops.tenancy.models import ApiKey, Membership, Tenant
from agentops.tenancy.roles import Role
from agentops.tenancy.services import TenancyError, api_key_create, tenant_update
from tests.support.admin_forms import form_as_posted


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_adding_a_key_shows_it_once_and_it_authenticates(admin_client, operator, tenant, agent, bearer):
    response = admin_client.post("/admin/tenancy/apikey/add/", {
        "tenant": tenant.pk, "user": operator.pk, "name": "ci", "scopes": ["read"]}, follow=True)

    [shown] = [m.rsplit(" ", 1)[-1] for m in messages_of(response) if "Copy the key now" in m]
    key = ApiKey.objects.get()
    assert key.key_hash == ApiKey.hash_key(shown) and key.scopes == ["read"]
    assert bearer(shown).get("/api/v1/agents/").status_code == 200
    assert AuditEvent.objects.get(action="api_key.created").actor_label == "admin"


def test_adding_a_key_for_a_user_outside_the_tenant_shows_the_error_and_adds_nothing(admin_client, member, tenant,
                                                                                     other_tenant):
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)

    response = admin_client.post("/admin/tenancy/apikey/add/", {
        "tenant": tenant.pk, "user": outsider.pk, "name": "ci", "scopes": ["read"]})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["user"] == ["olga is not a member of acme."]
    assert not ApiKey.objects.exists() and not AuditEvent.objects.filter(action="api_key.created").exists()


def test_the_revoke_action_revokes_and_audits_each_active_key(admin_client, operator, tenant):
    key, _ = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=Actor.system("test"))

    admin_client.post("/admin/tenancy/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.get(action="api_key.revoked").target_id == str(key.pk)


def test_changing_a_role_in_the_admin_records_before_and_after(admin_client, approver, tenant):
    membership = Membership.objects.get(user=approver, tenant=tenant)
    url = f"/admin/tenancy/membership/{membership.pk}/change/"
    data = form_as_posted(admin_client.get(url))
    data["role"] = Role.OPERATOR

    admin_client.post(url, data)

    assert Membership.objects.get(pk=membership.pk).role == Role.OPERATOR
    event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.changes == {"role": ["approver", "operator"]} and event.actor_label == "admin"


def test_removing_a_member_in_the_admin_is_audited(admin_client, approver, tenant):
    membership = Membership.objects.get(user=approver, tenant=tenant)

    admin_client.post(f"/admin/tenancy/membership/{membership.pk}/delete/", {"post": "yes"})

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.get(action="membership.removed").data == {"user": "arthur", "role": "approver"}


def test_allowing_self_approval_in_the_admin_records_before_and_after(admin_client, tenant):
    url = f"/admin/tenancy/tenant/{tenant.pk}/change/"
    data = form_as_posted(admin_client.get(url))
    data["allow_self_approval"] = "on"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tenant.objects.get(pk=tenant.pk).allow_self_approval is True
    event = AuditEvent.objects.get(tenant=tenant, action="tenant.changed")
    assert event.changes == {"allow_self_approval": [False, True]} and event.actor_label == "admin"


def test_saving_a_tenant_unchanged_in_the_admin_records_nothing(admin_client, tenant):
    url = f"/admin/tenancy/tenant/{tenant.pk}/change/"

    response = admin_client.post(url, form_as_posted(admin_client.get(url)))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not AuditEvent.objects.filter(tenant=tenant).exists()


def test_a_tenants_slug_cannot_be_changed_in_the_admin(admin_client, tenant):
    url = f"/admin/tenancy/tenant/{tenant.pk}/change/"
    data = form_as_posted(admin_client.get(url))

    admin_client.post(url, {**data, "slug": "renamed"})

    assert Tenant.objects.get(pk=tenant.pk).slug == "acme"


def test_adding_a_tenant_in_the_admin_starts_its_audit_chain(admin_client, db):
    data = form_as_posted(admin_client.get("/admin/tenancy/tenant/add/"))
    data.update(name="Initech", slug="initech", daily_cost_limit="25")

    response = admin_client.post("/admin/tenancy/tenant/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant = Tenant.objects.get(slug="initech")
    audit_seal(tenant_ids=[tenant.pk])
    [event] = AuditEvent.objects.filter(tenant=tenant)
    assert (event.seq, event.action) == (1, "tenant.created")
    assert event.data == {"name": "Initech", "daily_cost_limit": "25", "monthly_cost_limit": None,
                          "budget_policy": "fail", "allow_self_approval": False, "payload_retention_days": None,
                          "api_rate_read_per_minute": None, "api_rate_write_per_minute": None}


@pytest.mark.parametrize("settings", [{"slug": "other"}, {"colour": "blue"}])
def test_a_tenant_setting_that_is_not_editable_is_refused(tenant, settings):
    with pytest.raises(TenancyError, match="unknown tenant settings"):
        tenant_update(tenant=tenant, actor=Actor.system("test"), **settings)

    assert Tenant.objects.get(pk=tenant.pk).slug == "acme"


def test_a_members_attributes_are_set_in_the_admin_and_audited(admin_client, approver, tenant):
    membership = Membership.objects.get(user=approver, tenant=tenant)
    url = f"/admin/tenancy/membership/{membership.pk}/change/"
    data = form_as_posted(admin_client.get(url))
    data["attributes"] = '{"customer_id": "C-1001"}'

    admin_client.post(url, data)

    assert Membership.objects.get(pk=membership.pk).attributes == {"customer_id": "C-1001"}
    event = AuditEvent.objects.get(action="membership.attributes_changed")
    assert event.changes == {"customer_id": [None, "C-1001"]}


def test_attributes_rules_cannot_name_are_refused_with_the_reason(admin_client, approver, tenant):
    membership = Membership.objects.get(user=approver, tenant=tenant)
    url = f"/admin/tenancy/membership/{membership.pk}/change/"
    data = form_as_posted(admin_client.get(url))
    data["attributes"] = '{"customer id": "C-1001"}'

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Attribute names are a letter then letters" in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).attributes == {}
