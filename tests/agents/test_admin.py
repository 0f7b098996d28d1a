"""Editing an agent in the admin: changed settings make a new version; unchanged ones do not."""

from agentops.agents.models import Agent
from agentops.audit.models import AuditEvent
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
