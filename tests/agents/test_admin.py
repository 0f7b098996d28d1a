"""Editing an agent in the admin: changed settings make a new version; unchanged ones do not."""

from agentops.agents.models import Agent
from agentops.agents.selectors import agent_access_get
from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from tests.support.admin_forms import form_as_posted


def change_url(agent) -> str:
    return f"/admin/agents/agent/{agent.pk}/change/"


def test_a_changed_system_prompt_makes_a_new_version_and_an_audit_event(admin_client, agent, tenant):
    data = form_as_posted(admin_client.get(change_url(agent)))
    data["system_prompt"] = "Answer in French."

    response = admin_client.post(change_url(agent), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    current = Agent.objects.get(pk=agent.pk).current_version
    assert (current.number, current.system_prompt) == (2, "Answer in French.")
    assert current.created_by.username == "admin"
    event = AuditEvent.objects.get(tenant=tenant, action="agent.version_created")
    assert event.changes == {"system_prompt": ["", "Answer in French."]}
    assert event.actor_label == "admin"


def test_saving_the_form_unchanged_makes_no_new_version_and_no_audit_event(admin_client, agent):
    data = form_as_posted(admin_client.get(change_url(agent)))

    response = admin_client.post(change_url(agent), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert agent.versions.count() == 1
    assert not AuditEvent.objects.exists()


def test_renaming_an_agent_in_the_admin_records_before_and_after(admin_client, agent, tenant):
    data = form_as_posted(admin_client.get(change_url(agent)))
    data["name"] = "Customer support"

    admin_client.post(change_url(agent), data)

    event = AuditEvent.objects.get(tenant=tenant, action="agent.changed")
    assert event.changes == {"name": ["Support", "Customer support"]}
    assert agent.versions.count() == 1


def test_adding_an_agent_in_the_admin_creates_version_1(admin_client, tenant):
    add = admin_client.get("/admin/agents/agent/add/")
    data = form_as_posted(add)
    data.update(tenant=tenant.pk, slug="triage", name="Triage", system_prompt="Sort the mail.")

    response = admin_client.post("/admin/agents/agent/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    agent = Agent.objects.get(tenant=tenant, slug="triage")
    assert (agent.current_version.number, agent.current_version.system_prompt) == (1, "Sort the mail.")
    assert [e.action for e in AuditEvent.objects.filter(tenant=tenant)] == ["agent.created", "agent.version_created"]


def test_an_owner_restricts_the_agent_to_a_member_and_a_group_of_the_tenant(staff, agent, tenant, member,
                                                                            tenant_group):
    rita = member("rita", Role.OPERATOR)
    desk = tenant_group(tenant, "vip-desk")
    data = form_as_posted(staff.get(change_url(agent)))
    data.update(restricted="on", access_users=[rita.pk], access_groups=[desk.pk])

    response = staff.post(change_url(agent), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert agent_access_get(agent=Agent.objects.get(pk=agent.pk)) == {
        "restricted": True, "users": ["rita"], "groups": ["vip-desk"]}
    assert AuditEvent.objects.filter(action="agent.access_changed").exists()
    assert agent.versions.count() == 1  # access is not a version setting


def test_the_access_fields_offer_only_the_agents_tenants_members_and_groups(staff, agent, other_tenant, member,
                                                                           tenant_group):
    member("gus", Role.OPERATOR, in_tenant=other_tenant)
    tenant_group(other_tenant, "globex-desk")

    form = staff.get(change_url(agent)).context["adminform"].form

    assert "gus" not in {user.username for user in form.fields["access_users"].queryset}
    assert not form.fields["access_groups"].queryset.exists()


def test_a_child_depth_out_of_range_is_shown_on_its_field(staff, agent):
    data = form_as_posted(staff.get(change_url(agent)))
    data.update(max_child_depth=11, child_workflows='"agent_loop"')

    response = staff.post(change_url(agent), data)

    errors = response.context["adminform"].form.errors
    assert "max_child_depth" in errors and "child_workflows" in errors
    assert agent.versions.count() == 1
