"""Every change made in the admin is audited in its transaction: users, groups, memberships,
API keys, webhooks, prices and tool grants, with the changed fields and never a secret."""

import json

from django.contrib.auth.models import Group, Permission

from agentops.audit.admin import REDACTED
from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.llm.models import ModelPrice
from agentops.tenancy.models import ApiKey, Membership, TenantGroup
from agentops.tenancy.roles import Role
from agentops.webhooks.models import Webhook
from tests.support.admin_forms import form_as_posted
from tools.services import tool_create


def the_event(**filters) -> AuditEvent:
    [event] = AuditEvent.objects.filter(**filters)
    return event


def post_changed(client, page, **changes):
    response = client.post(page, {**form_as_posted(client.get(page)), **changes})
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_changing_a_users_email_records_before_and_after(staff, tenant, operator, owner):
    post_changed(staff, f"/admin/auth/user/{operator.pk}/change/", email="olivia@example.com")

    event = the_event(action__startswith="admin.")
    assert (event.tenant, event.action, event.actor_label) == (tenant, "admin.change", "oona")
    assert (event.target_type, event.target_id) == ("auth.user", str(operator.pk))
    assert event.changes == {"email": ["", "olivia@example.com"]}


def test_saving_a_user_unchanged_records_nothing(staff, operator):
    post_changed(staff, f"/admin/auth/user/{operator.pk}/change/")

    assert not AuditEvent.objects.filter(action__startswith="admin.").exists()


def test_adding_a_user_records_the_user_and_the_membership_without_the_password(staff, tenant):
    staff.post("/admin/auth/user/add/", {
        "username": "newbie", "password1": "a-long-pass-42", "password2": "a-long-pass-42",
        "usable_password": "true", "tenant": tenant.pk, "role": Role.VIEWER})

    added = the_event(action="admin.add")
    assert added.tenant == tenant and added.changes["username"] == [None, "newbie"]
    assert "password" not in added.changes
    assert the_event(action="membership.created").data == {"user": "newbie", "role": "viewer"}
    assert "a-long-pass-42" not in json.dumps([added.data, added.changes])


def test_changing_a_password_records_that_it_changed_and_nothing_of_it(staff, tenant, operator):
    response = staff.post(f"/admin/auth/user/{operator.pk}/password/", {
        "password1": "a-new-pass-42", "password2": "a-new-pass-42", "usable_password": "true"})

    assert response.status_code == 302
    event = the_event(action="admin.change")
    operator.refresh_from_db()
    assert event.changes == {"password": [REDACTED, REDACTED]}
    assert operator.password not in json.dumps(event.changes)


def test_putting_a_member_in_a_group_records_the_groups(staff, tenant, operator):
    group = Group.objects.create(name="reviewers")
    TenantGroup.objects.create(group=group, tenant=tenant)

    post_changed(staff, f"/admin/auth/user/{operator.pk}/change/", groups=[group.pk])

    assert the_event(action="admin.change", tenant=tenant).changes == {"groups": [[], [group.pk]]}


def test_adding_a_group_records_it_in_its_tenant(staff, tenant, other_tenant):
    staff.post("/admin/auth/group/add/", {"name": "reviewers", "tenant": tenant.pk})

    event = the_event(action="admin.add")
    assert event.tenant == tenant and event.changes == {"name": [None, "reviewers"]}


def test_a_platform_groups_permissions_changed_by_a_superuser_are_recorded_in_every_tenant(
        admin_client, tenant, other_tenant):
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_auditevent")

    post_changed(admin_client, f"/admin/auth/group/{group.pk}/change/", permissions=[permission.pk])

    events = AuditEvent.objects.filter(action="admin.change").order_by("tenant_id")
    assert [event.tenant for event in events] == [tenant, other_tenant]
    assert all(event.changes == {"permissions": [[], [permission.pk]]} for event in events)


def test_changing_a_role_is_recorded_with_the_staff_member_as_actor(staff, tenant, operator):
    membership = Membership.objects.get(user=operator)

    post_changed(staff, f"/admin/tenancy/membership/{membership.pk}/change/", role=Role.APPROVER)

    event = the_event(action="membership.role_changed")
    assert event.changes == {"role": ["operator", "approver"]} and event.actor_label == "oona"


def test_adding_an_api_key_records_it_without_its_hash_or_value(staff, tenant, operator):
    response = staff.post("/admin/tenancy/apikey/add/", {
        "tenant": tenant.pk, "user": operator.pk, "name": "ci", "scopes": ["read"]}, follow=True)

    key = ApiKey.objects.get()
    raw = next(str(m).rsplit(" ", 1)[-1] for m in response.context["messages"] if "Copy the key" in str(m))
    event = the_event(action="api_key.created")
    recorded = json.dumps([event.data, event.changes])
    assert event.tenant == tenant and event.actor_label == "oona"
    assert key.key_hash not in recorded and raw not in recorded


def test_adding_changing_and_deleting_a_webhook_are_recorded(staff, tenant):
    staff.post("/admin/webhooks/webhook/add/", {
        "tenant": tenant.pk, "name": "ops", "url": "https://hooks.example.com/a",
        "secret": "{{ secret:ACME_HOOK }}", "events": '["run.failed"]', "active": "on"})
    hook = Webhook.objects.get()
    post_changed(staff, f"/admin/webhooks/webhook/{hook.pk}/change/", url="https://hooks.example.com/b",
                 secret="{{ secret:ACME_HOOK_2 }}")
    staff.post(f"/admin/webhooks/webhook/{hook.pk}/delete/", {"post": "yes"})

    added, changed, deleted = AuditEvent.objects.filter(tenant=tenant, target_type="webhooks.webhook")
    assert added.action == "admin.add" and added.changes["secret"] == [None, REDACTED]
    assert added.changes["url"] == [None, "https://hooks.example.com/a"]
    assert changed.action == "admin.change" and changed.changes == {
        "url": ["https://hooks.example.com/a", "https://hooks.example.com/b"], "secret": [REDACTED, REDACTED]}
    assert deleted.action == "admin.delete" and deleted.data["name"] == "ops" and deleted.data["secret"] == REDACTED
    assert "ACME_HOOK" not in json.dumps([e.changes | e.data for e in (added, changed, deleted)])


def test_a_price_changed_by_a_superuser_is_recorded_in_every_tenant(admin_client, tenant, other_tenant):
    price = ModelPrice.objects.create(model="acme-1", input_per_mtok="2.5", cached_input_per_mtok="1.25",
                                      output_per_mtok="10")

    post_changed(admin_client, f"/admin/llm/modelprice/{price.pk}/change/", output_per_mtok="12")

    events = AuditEvent.objects.filter(action="admin.change").order_by("tenant_id")
    assert [event.tenant for event in events] == [tenant, other_tenant]
    assert events[0].changes == {"output_per_mtok": ["10.000000", "12.000000"]}
    assert events[0].actor_label == "admin"


def test_deleting_a_selection_records_each_deleted_object(admin_client, tenant):
    prices = [ModelPrice.objects.create(model=name, input_per_mtok=1, cached_input_per_mtok=1, output_per_mtok=1)
              for name in ("a-1", "a-2")]

    admin_client.post("/admin/llm/modelprice/", {
        "action": "delete_selected", "_selected_action": [p.pk for p in prices], "post": "yes"})

    assert not ModelPrice.objects.filter(model__in=["a-1", "a-2"]).exists()
    deleted = AuditEvent.objects.filter(action="admin.delete", tenant=tenant)
    assert sorted(event.data["model"] for event in deleted) == ["a-1", "a-2"]


def test_a_tenants_staff_may_read_prices_but_not_change_them(staff):
    price = ModelPrice.objects.create(model="acme-1", input_per_mtok=1, cached_input_per_mtok=1, output_per_mtok=1)

    assert staff.get(f"/admin/llm/modelprice/{price.pk}/change/").status_code == 200
    assert staff.post(f"/admin/llm/modelprice/{price.pk}/change/", {"model": "x"}).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="admin.").exists()


def test_granting_a_tool_on_its_object_permissions_page_is_recorded(staff, tenant, operator):
    tool = tool_create(tenant=tenant, name="acme.tool", kind="http", description="A test tool.",
                       actor=Actor.system("test"), config={"url": "https://example.com", "method": "GET"})

    response = staff.post(f"/admin/tools/tool/{tool.pk}/permissions/user-manage/{operator.pk}/",
                          {"permissions": ["use_tool"]})

    assert response.status_code == 302 and operator.has_perm("tools.use_tool", tool)
    event = the_event(action="tool.permissions_changed")
    assert (event.tenant, event.actor_label, event.data) == (tenant, "oona", {"user": "olivia"})
    assert event.changes == {"permissions": [[], ["use_tool"]]}
