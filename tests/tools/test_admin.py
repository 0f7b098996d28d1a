"""The tool admin: validated on save, saved through the services, code tools' definitions locked."""

import json

import pytest
from django.test import Client

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from tests.factories import UserFactory
from tools.models import Tool


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def form(**overrides) -> dict:
    data = {
        "name": "crm.ping", "description": "Ping the CRM.", "kind": "http", "enabled": "on",
        "input_schema": json.dumps({"type": "object", "properties": {"amount": {"type": "number"}}}),
        "output_schema": "null", "config": json.dumps({"url": "https://crm.example.com/ping"}),
        "effect": "read", "timeout_seconds": "30", "retry_policy": "{}", "approval": "never",
        "approval_condition": "", "required_approvals": "1", "expires_in_seconds": "", "expiry_action": "wait",
        "argument_rules": "[]",
    }
    return {**data, **overrides}


def test_the_add_form_refuses_an_invalid_schema(admin_client, tenant):
    bad = json.dumps({"type": "object", "properties": {"amount": {"type": "numbr"}}})

    response = admin_client.post("/admin/tools/tool/add/", form(tenant=tenant.pk, input_schema=bad))

    assert response.status_code == 200  # the form again, with the error
    assert "Not a valid JSON Schema" in response.content.decode()
    assert not Tool.objects.filter(name="crm.ping").exists()


def test_the_add_form_refuses_an_unsafe_condition(admin_client, tenant):
    response = admin_client.post("/admin/tools/tool/add/", form(
        tenant=tenant.pk, approval="when", approval_condition="amount.__class__"))

    assert response.status_code == 200 and "Attribute access" in response.content.decode()


def test_the_add_form_refuses_a_rule_over_an_unknown_argument_and_saves_a_good_one(admin_client, tenant):
    response = admin_client.post("/admin/tools/tool/add/", form(
        tenant=tenant.pk, argument_rules=json.dumps(["arguments.amout <= user.attributes.limit"])))

    assert response.status_code == 200 and "arguments.amout does not exist" in response.content.decode()

    response = admin_client.post("/admin/tools/tool/add/", form(
        tenant=tenant.pk, argument_rules=json.dumps(["arguments.amount <= user.attributes.limit"])))

    assert response.status_code == 302
    assert Tool.objects.get(name="crm.ping").argument_rules == ["arguments.amount <= user.attributes.limit"]


def test_a_tool_added_in_the_admin_is_audited(admin_client, tenant):
    response = admin_client.post("/admin/tools/tool/add/", form(
        tenant=tenant.pk, approval="when", approval_condition="amount > 100"))

    assert response.status_code == 302
    tool = Tool.objects.get(tenant=tenant, name="crm.ping")
    assert tool.approval_condition == "amount > 100"
    assert AuditEvent.objects.filter(tenant=tenant, action="tool.created", target_id=str(tool.pk)).exists()


def test_a_code_tool_shows_its_definition_read_only_and_changes_its_policy(admin_client, tenant):
    kb = Tool.objects.get(name="kb.search", tenant=None)
    page = admin_client.get(f"/admin/tools/tool/{kb.pk}/change/")
    assert page.status_code == 200 and 'name="description"' not in page.content.decode()

    data = form(approval="always", required_approvals="2", description="ignored")
    response = admin_client.post(f"/admin/tools/tool/{kb.pk}/change/", data)

    assert response.status_code == 302
    kb.refresh_from_db()
    assert (kb.approval, kb.required_approvals) == ("always", 2) and kb.description != "ignored"
    event = AuditEvent.objects.get(tenant=tenant, action="tool.changed")
    assert event.changes == {"approval": ["never", "always"], "required_approvals": [1, 2]}


def test_an_object_permission_given_in_the_admin_clears_the_configuration_cache(admin_client, tenant, member,
                                                                                cache_after_commit):
    kb = Tool.objects.get(name="kb.search", tenant=None)
    sam = member("sam", Role.VIEWER)

    def grant():
        response = admin_client.post(f"/admin/tools/tool/{kb.pk}/permissions/user-manage/{sam.pk}/",
                                     {"permissions": ["use_tool"]})
        assert response.status_code == 302

    assert cache_after_commit(grant) is False
    assert sam.has_perm("tools.use_tool", kb)


def test_the_form_shows_the_services_checks_on_their_fields(admin_client, tenant):
    response = admin_client.post("/admin/tools/tool/add/", form(tenant=tenant.pk, config=json.dumps({"url": "ftp://x"})))

    errors = response.context["adminform"].form.errors
    assert response.status_code == 200 and list(errors) == ["config"]
    assert errors["config"][0].startswith("http tool: 'url' must start with http:// or https://")
    assert not Tool.objects.filter(name="crm.ping").exists()
