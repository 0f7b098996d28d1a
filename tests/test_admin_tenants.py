"""The admin per tenant: a tenant's staff see and change only their tenant's rows, as their role
allows (agentops.admin.TenantScopedAdminMixin); a superuser, the platform's admin, sees everything."""

import pytest
from django.contrib.auth.models import Group

from agentops.agents.models import Agent
from agentops.audit.services import Actor
from agentops.tenancy.models import Membership, TenantGroup
from agentops.tenancy.roles import Role
from agentops.webhooks.models import Webhook
from tests.factories import AgentFactory, TenantFactory
from tests.support.admin_forms import form_as_posted
from tools.models import Tool
from tools.services import tool_create


def http_tool(tenant, name):
    return tool_create(tenant=tenant, name=name, kind="http", description="A test tool.", actor=Actor.system("test"),
                       config={"url": "https://example.com", "method": "GET"})


def tenant_group(name, tenant):
    group = Group.objects.create(name=name)
    TenantGroup.objects.create(group=group, tenant=tenant)
    return group


@pytest.fixture
def globex(other_tenant, member):
    """Rows of the other tenant that acme's staff must never reach."""
    return {
        "agent": AgentFactory(tenant=other_tenant, slug="globex-bot"),
        "user": member("gus", Role.OWNER, in_tenant=other_tenant),
        "group": tenant_group("globex approvers", other_tenant),
        "webhook": Webhook.objects.create(tenant=other_tenant, name="globex-hook", url="https://globex.example.com",
                                          secret="{{ secret:GLOBEX }}"),
    }


def listed(client, url) -> list:
    response = client.get(url)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_agent_list_shows_only_the_tenants_agents(staff, tenant, globex):
    AgentFactory(tenant=tenant, slug="acme-bot")

    assert [agent.slug for agent in listed(staff, "/admin/agents/agent/")] == ["acme-bot"]


def test_the_user_list_shows_only_members_of_the_tenant(staff, operator, globex):
    assert {user.username for user in listed(staff, "/admin/auth/user/")} == {"oona", "olivia"}


def test_the_group_list_shows_only_the_tenants_groups(staff, tenant, globex):
    tenant_group("acme approvers", tenant)
    Group.objects.create(name="platform")

    assert [group.name for group in listed(staff, "/admin/auth/group/")] == ["acme approvers"]


def test_the_list_filters_offer_only_the_users_tenants(staff, owner, tenant, globex):
    initech = TenantFactory(slug="initech")
    Membership.objects.create(user=owner, tenant=initech, role=Role.VIEWER)
    AgentFactory(tenant=tenant, slug="acme-bot"), AgentFactory(tenant=initech, slug="initech-bot")

    response = staff.get("/admin/agents/agent/")

    [tenant_filter] = [f for f in response.context["cl"].filter_specs if f.field_path == "tenant"]
    assert sorted(label for _, label in tenant_filter.lookup_choices) == ["acme", "initech"]
    assert "globex" not in response.content.decode()


def test_the_tenant_list_shows_only_the_users_tenant_and_it_is_read_only(staff, tenant, other_tenant):
    assert listed(staff, "/admin/tenancy/tenant/") == [tenant]
    assert staff.post(f"/admin/tenancy/tenant/{tenant.pk}/change/", {"name": "Renamed"}).status_code == 403


def test_the_tool_list_shows_the_tenants_tools_and_global_ones(staff, tenant, other_tenant):
    for owner_tenant, name in [(tenant, "acme.tool"), (other_tenant, "globex.tool"), (None, "global.tool")]:
        http_tool(owner_tenant, name)

    names = {tool.name for tool in listed(staff, "/admin/tools/tool/")}
    assert {"acme.tool", "global.tool"} <= names and "globex.tool" not in names


@pytest.mark.parametrize("kind, url", [
    ("agent", "/admin/agents/agent/{}/change/"),
    ("user", "/admin/auth/user/{}/change/"),
    ("group", "/admin/auth/group/{}/change/"),
    ("webhook", "/admin/webhooks/webhook/{}/change/"),
])
def test_another_tenants_object_is_not_found_by_id(staff, globex, kind, url):
    response = staff.get(url.format(globex[kind].pk), follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert "doesn’t exist" in str(list(response.context["messages"])[0])


def test_another_tenants_user_password_page_is_not_found(staff, globex):
    assert staff.get(f"/admin/auth/user/{globex['user'].pk}/password/").status_code == 404


def test_foreign_key_choices_offer_only_the_tenants_rows(staff, tenant, globex):
    acme_group = tenant_group("acme approvers", tenant)

    tool_form = staff.get("/admin/tools/tool/add/").context["adminform"].form
    key_form = staff.get("/admin/tenancy/apikey/add/").context["adminform"].form

    assert list(tool_form.fields["approver_group"].queryset) == [acme_group]
    assert list(tool_form.fields["tenant"].queryset) == [tenant]
    assert globex["user"] not in key_form.fields["user"].queryset
    assert list(key_form.fields["tenant"].queryset) == [tenant]


def test_the_add_form_sets_the_tenant_of_a_one_tenant_user(staff, tenant):
    form = staff.get("/admin/agents/agent/add/").context["adminform"].form

    assert [choice.value for choice, _ in form.fields["tenant"].choices] == [tenant.pk]
    assert form.fields["tenant"].required


def test_adding_an_agent_in_another_tenant_is_refused(staff, other_tenant):
    data = form_as_posted(staff.get("/admin/agents/agent/add/"))
    data.update(tenant=other_tenant.pk, slug="intruder", name="Intruder")

    response = staff.post("/admin/agents/agent/add/", data)

    assert response.status_code == 200 and "tenant" in response.context["adminform"].form.errors
    assert not Agent.objects.filter(slug="intruder").exists()


def test_adding_a_webhook_in_another_tenant_is_refused(staff, other_tenant):
    response = staff.post("/admin/webhooks/webhook/add/", {
        "tenant": other_tenant.pk, "name": "x", "url": "https://x.example.com", "secret": "{{ secret:X }}",
        "events": '["*"]', "active": "on"})

    assert response.status_code == 200 and "tenant" in response.context["adminform"].form.errors
    assert not Webhook.objects.filter(name="x").exists()


def test_putting_a_member_in_another_tenants_group_is_refused(staff, operator, globex):
    url = f"/admin/auth/user/{operator.pk}/change/"
    data = form_as_posted(staff.get(url))
    data["groups"] = [globex["group"].pk]

    response = staff.post(url, data)

    assert response.status_code == 200 and "groups" in response.context["adminform"].form.errors
    assert not operator.groups.exists()


def test_staff_of_two_tenants_cannot_give_one_tenants_tool_the_others_group(staff, owner, tenant, other_tenant):
    Membership.objects.create(user=owner, tenant=other_tenant, role=Role.OWNER)
    globex_group = tenant_group("globex approvers", other_tenant)
    tool = http_tool(tenant, "acme.tool")
    url = f"/admin/tools/tool/{tool.pk}/change/"
    data = form_as_posted(staff.get(url))
    data["approver_group"] = globex_group.pk

    response = staff.post(url, data)

    errors = response.context["adminform"].form.errors
    assert errors["approver_group"] == ["globex approvers belongs to another tenant."]
    assert Tool.objects.get(pk=tool.pk).approver_group is None


def test_a_members_groups_of_other_tenants_stay_when_staff_change_them(staff, tenant, operator, globex):
    operator.groups.add(globex["group"])
    acme_group = tenant_group("acme approvers", tenant)
    url = f"/admin/auth/user/{operator.pk}/change/"
    data = form_as_posted(staff.get(url))
    data["groups"] = [acme_group.pk]

    assert staff.post(url, data).status_code == 302
    assert set(operator.groups.all()) == {acme_group, globex["group"]}


def test_staff_cannot_make_themselves_superuser_or_grant_staff_status(staff, owner, operator):
    for user in (owner, operator):
        url = f"/admin/auth/user/{user.pk}/change/"
        data = form_as_posted(staff.get(url))
        data.update(is_superuser="on", is_staff="on")

        assert staff.post(url, data).status_code == 302

    owner.refresh_from_db(), operator.refresh_from_db()
    assert not owner.is_superuser and not operator.is_superuser and not operator.is_staff


def test_staff_cannot_change_a_superuser_who_is_a_member(staff, tenant, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    Membership.objects.create(user=root, tenant=tenant, role=Role.OWNER)

    assert staff.post(f"/admin/auth/user/{root.pk}/password/",
                      {"password1": "hijacked-42", "password2": "hijacked-42"}).status_code == 403
    root.refresh_from_db()
    assert root.check_password("pw")


def test_staff_cannot_change_a_user_who_is_also_in_another_tenant(staff, operator, other_tenant):
    Membership.objects.create(user=operator, tenant=other_tenant, role=Role.VIEWER)
    url = f"/admin/auth/user/{operator.pk}/change/"

    assert staff.post(url, {"username": "renamed"}).status_code == 403


def test_a_user_added_by_staff_joins_their_tenant(staff, tenant):
    response = staff.post("/admin/auth/user/add/", {
        "username": "newbie", "password1": "a-long-pass-42", "password2": "a-long-pass-42",
        "usable_password": "true", "tenant": tenant.pk, "role": Role.APPROVER})

    assert response.status_code == 302
    assert Membership.objects.get(user__username="newbie").tenant == tenant


def test_a_group_added_by_staff_belongs_to_their_tenant(staff, tenant, other_tenant):
    refused = staff.post("/admin/auth/group/add/", {"name": "intruders", "tenant": other_tenant.pk})
    added = staff.post("/admin/auth/group/add/", {"name": "reviewers", "tenant": tenant.pk})

    assert refused.status_code == 200 and not Group.objects.filter(name="intruders").exists()
    assert added.status_code == 302 and TenantGroup.objects.get(group__name="reviewers").tenant == tenant


def test_an_operator_sees_the_tenants_agents_but_changes_nothing(client, member, tenant):
    operator = member("otto", Role.OPERATOR)
    operator.is_staff = True
    operator.save()
    agent = AgentFactory(tenant=tenant, slug="acme-bot")
    client.force_login(operator)

    assert client.get(f"/admin/agents/agent/{agent.pk}/change/").status_code == 200
    assert client.post(f"/admin/agents/agent/{agent.pk}/change/", {"name": "x"}).status_code == 403
    assert client.get("/admin/agents/agent/add/").status_code == 403


def test_an_owner_changes_the_tenants_agent(staff, tenant):
    agent = AgentFactory(tenant=tenant, slug="acme-bot")
    url = f"/admin/agents/agent/{agent.pk}/change/"
    data = form_as_posted(staff.get(url))
    data["name"] = "Renamed"

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Agent.objects.get(pk=agent.pk).name == "Renamed"


def test_an_agents_page_shows_its_versions_to_the_tenants_staff(staff, tenant):
    agent = AgentFactory(tenant=tenant, slug="acme-bot")

    response = staff.get(f"/admin/agents/agent/{agent.pk}/change/")

    [versions] = response.context["inline_admin_formsets"]
    assert [form.original for form in versions] == [agent.current_version]
    assert not versions.has_change_permission


def test_a_global_tool_is_read_only_for_staff(staff):
    tool = http_tool(None, "global.tool")

    assert staff.get(f"/admin/tools/tool/{tool.pk}/change/").status_code == 200
    assert staff.post(f"/admin/tools/tool/{tool.pk}/change/", {"enabled": ""}).status_code == 403
    assert staff.get(f"/admin/tools/tool/{tool.pk}/permissions/").status_code == 404


def test_staff_grant_the_use_of_a_tool_only_to_their_members(staff, tenant, operator, globex):
    tool = http_tool(tenant, "acme.tool")
    base = f"/admin/tools/tool/{tool.pk}/permissions"

    assert staff.get(f"{base}/user-manage/{operator.pk}/").status_code == 200
    assert staff.get(f"{base}/user-manage/{globex['user'].pk}/").status_code == 404
    assert staff.get(f"{base}/group-manage/{globex['group'].pk}/").status_code == 404
    assert Tool.objects.get(pk=tool.pk)  # untouched


def test_a_superuser_adds_a_platform_group_after_staff_opened_the_form(staff, admin_client):
    # The staff's form narrows its tenant field; the platform admin's form must not inherit that.
    staff.get("/admin/auth/group/add/")

    response = admin_client.post("/admin/auth/group/add/", {"name": "platform", "tenant": ""})

    assert response.status_code == 302 and not TenantGroup.objects.filter(group__name="platform").exists()


def test_a_superuser_sees_every_tenants_rows(admin_client, tenant, globex):
    AgentFactory(tenant=tenant, slug="acme-bot")

    assert {agent.slug for agent in listed(admin_client, "/admin/agents/agent/")} == {"acme-bot", "globex-bot"}
    assert admin_client.get(f"/admin/auth/group/{globex['group'].pk}/change/").status_code == 200
