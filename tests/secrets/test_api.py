"""/api/v1/secrets/: write-only, role-checked, tenant-scoped, audited by name."""

import json

import pytest

from agentops.audit.models import AuditEvent
from agentops.secrets.models import VALUE_MAX_BYTES, TenantSecret
from agentops.tenancy.roles import Role

VALUE = "sk-live-4d2c9e71b0aa5f3e"


def put(client, name="CRM_TOKEN", value=VALUE, **extra):
    return client.put(f"/api/v1/secrets/{name}/", {"value": value, **extra}, format="json")


def test_put_creates_a_secret_and_no_response_ever_holds_its_value(client_for):
    developer = client_for(Role.DEVELOPER, ("read", "tools:write"))

    created = put(developer)
    listed = developer.get("/api/v1/secrets/")
    detail = developer.get("/api/v1/secrets/CRM_TOKEN/")

    assert created.status_code == 201
    assert created.json()["name"] == "CRM_TOKEN" and created.json()["last_four"] == "5f3e"
    assert created.json()["updated_by"].startswith("developer")
    assert [item["name"] for item in listed.json()["results"]] == ["CRM_TOKEN"]
    assert detail.status_code == 200
    for response in (created, listed, detail):
        assert VALUE not in response.content.decode() and "value" not in json.dumps(response.json())


def test_put_again_replaces_the_value_and_each_change_is_audited_by_name_only(client_for, tenant):
    owner = client_for(Role.OWNER, ("read", "tools:write"))

    put(owner)
    replaced = put(owner, value="short")
    deleted = owner.delete("/api/v1/secrets/CRM_TOKEN/")

    assert (replaced.status_code, replaced.json()["last_four"]) == (200, "")  # too short to show any of it
    assert deleted.status_code == 204
    assert not TenantSecret.objects.exists()
    events = list(AuditEvent.objects.filter(tenant=tenant, action__startswith="secret.").order_by("id"))
    assert [(e.action, e.data, e.target_label) for e in events] == [
        ("secret.created", {"name": "CRM_TOKEN"}, "CRM_TOKEN"),
        ("secret.replaced", {"name": "CRM_TOKEN"}, "CRM_TOKEN"),
        ("secret.deleted", {"name": "CRM_TOKEN"}, "CRM_TOKEN"),
    ]
    stored = json.dumps([[e.data, e.changes, e.actor_label, e.target_label] for e in events])
    assert VALUE not in stored and "short" not in stored


@pytest.mark.parametrize("role, scopes", [
    (Role.OPERATOR, ("read", "runs:write", "tools:write")),  # the role may not manage tools
    (Role.VIEWER, ("read", "tools:write")),
    (Role.DEVELOPER, ("read",)),  # the role may, the key may not write
])
def test_only_those_who_manage_tools_may_set_secrets(client_for, role, scopes):
    response = put(client_for(role, scopes))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not TenantSecret.objects.exists()


def test_a_viewer_may_not_even_list_the_names(client_for):
    put(client_for(Role.OWNER))

    response = client_for(Role.VIEWER, ("read",)).get("/api/v1/secrets/")

    assert response.status_code == 403


def test_another_tenants_key_sees_and_deletes_nothing_of_this_tenant(client_for, tenant, other_tenant):
    put(client_for(Role.OWNER))
    stranger = client_for(Role.OWNER, ("read", "tools:write"), in_tenant=other_tenant)

    assert stranger.get("/api/v1/secrets/CRM_TOKEN/").status_code == 404
    assert stranger.delete("/api/v1/secrets/CRM_TOKEN/").json()["error"]["code"] == "not_found"
    assert stranger.get("/api/v1/secrets/").json()["results"] == []
    # Its own secret of the same name is its own
    assert put(stranger, value="globex-value-123456").status_code == 201
    assert TenantSecret.objects.filter(tenant=tenant, name="CRM_TOKEN").get().last_four == "5f3e"


@pytest.mark.parametrize("name, body, code", [
    ("9LIVES", {"value": "x"}, "invalid_name"),
    ("a" * 101, {"value": "x"}, "invalid_name"),
    ("CRM_TOKEN", {"value": "x" * (VALUE_MAX_BYTES + 1)}, "invalid"),  # more characters than the bytes allowed
    ("CRM_TOKEN", {"value": "é" * (VALUE_MAX_BYTES // 2 + 1)}, "value_too_large"),  # fewer, but more bytes
    ("CRM_TOKEN", {"value": ""}, "invalid"),
    ("CRM_TOKEN", {}, "invalid"),
    ("CRM_TOKEN", {"value": "x", "last_four": "abcd"}, "unknown_field"),
])
def test_bad_names_and_values_are_refused_with_a_code(client_for, name, body, code):
    response = client_for(Role.OWNER).put(f"/api/v1/secrets/{name}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not TenantSecret.objects.exists() and not AuditEvent.objects.filter(action__startswith="secret.").exists()


def test_the_schema_documents_the_secrets_endpoints(client, db):
    schema = client.get("/api/schema/?format=json").json()

    assert {"put", "get", "delete"} <= set(schema["paths"]["/api/v1/secrets/{name}/"])
    assert "value" not in schema["components"]["schemas"]["Secret"]["properties"]
