"""Editing an agent in the admin: changed settings make a new version; unchanged ones do not."""

from agentops.agents.models import Agent
from agentops.agents.selectors import agent_access_get
from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from agentops.llm.models import ModelPrice
from tests.factories import AgentFactory
from tests.support.admin_forms import form_as_posted
from tools.models import Tool


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


# -- an agent version that could not run is refused, with the error on its field ----------------


def post_settings(admin_client, agent, **changes):
    data = form_as_posted(admin_client.get(change_url(agent)))
    data.update(changes)
    return admin_client.post(change_url(agent), data)


def field_errors(response) -> dict:
    assert response.status_code == 200, "the form was saved"
    return response.context["adminform"].form.errors


def test_a_workflow_no_module_registers_is_refused_on_its_field(admin_client, agent):
    errors = field_errors(post_settings(admin_client, agent, workflow="many_step"))

    assert "No workflow named 'many_step'" in errors["workflow"][0] and "agent_loop" in errors["workflow"][0]
    assert agent.versions.count() == 1


def test_a_misspelt_tool_is_refused_and_the_tenants_tools_are_accepted(admin_client, agent, tenant):
    Tool.objects.create(tenant=tenant, name="orders.lookup", kind="http", description="Look an order up.")

    refused = field_errors(post_settings(admin_client, agent, tools='["orders.lookupp"]'))
    accepted = post_settings(admin_client, agent, tools='["orders.lookup"]')

    assert "No tool named orders.lookupp" in refused["tools"][0]
    assert accepted.status_code == 302
    assert Agent.objects.get(pk=agent.pk).current_version.tools == ["orders.lookup"]


def test_another_tenants_tool_is_refused(admin_client, agent, other_tenant):
    Tool.objects.create(tenant=other_tenant, name="crm.export", kind="http", description="Theirs.")

    errors = field_errors(post_settings(admin_client, agent, tools='["crm.export"]'))

    assert "crm.export" in errors["tools"][0] and agent.versions.count() == 1


def test_tools_that_are_not_a_list_of_names_are_refused(admin_client, agent):
    errors = field_errors(post_settings(admin_client, agent, tools='{"orders.lookup": true}'))

    assert "list of tool names" in errors["tools"][0]


def test_an_unknown_provider_is_refused_naming_the_known_ones(admin_client, agent):
    errors = field_errors(post_settings(admin_client, agent, provider="anthropic"))

    assert "anthropic" in errors["provider"][0] and "openai" in errors["provider"][0]


def test_a_model_name_with_spaces_is_refused(admin_client, agent):
    errors = field_errors(post_settings(admin_client, agent, model="gpt 4o"))

    assert "without spaces" in errors["model"][0]


def test_a_max_cost_needs_a_price_for_the_model(admin_client, agent):
    refused = field_errors(post_settings(admin_client, agent, model="house-model", max_cost="0.50"))
    ModelPrice.objects.create(model="house-model", input_per_mtok=1, cached_input_per_mtok=1, output_per_mtok=1)
    accepted = post_settings(admin_client, agent, model="house-model-2026-01-01", max_cost="0.50")

    assert "No price is known for house-model" in refused["model"][0]
    assert accepted.status_code == 302


def test_a_new_agent_is_checked_too(admin_client, tenant):
    data = form_as_posted(admin_client.get("/admin/agents/agent/add/"))
    data.update(tenant=tenant.pk, slug="triage", name="Triage", workflow="nope", tools='["nope.tool"]')

    errors = field_errors(admin_client.post("/admin/agents/agent/add/", data))

    assert set(errors) == {"workflow", "tools"} and not Agent.objects.filter(slug="triage").exists()


def test_a_rename_does_not_recheck_settings_that_did_not_change(admin_client, tenant):
    agent = AgentFactory(tenant=tenant, slug="legacy", version__tools=["deleted.tool"])

    response = post_settings(admin_client, agent, name="Legacy agent")

    assert response.status_code == 302 and Agent.objects.get(pk=agent.pk).name == "Legacy agent"
