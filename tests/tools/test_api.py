"""/api/v1/tools/: tenant-scoped reads; writes need manage_tools and the tools:write scope."""


from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from tools.models import Tool

NEW_TOOL = {
    "name": "crm.ping",
    "description": "Check the CRM answers.",
    "kind": "http",
    "config": {"url": "https://crm.example.com/ping", "headers": {"Authorization": "Bearer {{ secret:CRM_TOKEN }}"}},
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    "approval": "when",
    "approval_condition": "q == 'all'",
}


def names(response) -> list[str]:
    return [tool["name"] for tool in response.json()["results"]]


def test_the_list_holds_global_tools_and_the_tenants_own(tenant, other_tenant, make_tool, client_for):
    # Given a global tool, one of this tenant shadowing it, and one of another tenant
    make_tool("crm.ping", tenant=None)
    make_tool("crm.ping", description="ours")
    make_tool("globex.secret", tenant=other_tenant)

    response = client_for(Role.VIEWER, ("read",)).get("/api/v1/tools/")

    # Then the tenant sees each name once, its own version, and never the other tenant's tool
    assert response.status_code == 200
    listed = names(response)
    assert listed.count("crm.ping") == 1 and "globex.secret" not in listed
    assert {"kb.search", "tickets.create", "crm.lookup_customer"} <= set(listed)  # the Python tools
    ping = next(tool for tool in response.json()["results"] if tool["name"] == "crm.ping")
    assert (ping["scope"], ping["description"], ping["code"]) == ("tenant", "ours", False)


def test_detail_by_name(client_for):
    response = client_for(Role.VIEWER, ("read",)).get("/api/v1/tools/kb.search/")

    assert response.status_code == 200
    assert response.json()["scope"] == "global" and response.json()["code"] is True


def test_another_tenants_tool_is_not_found(other_tenant, make_tool, client_for):
    make_tool("globex.secret", tenant=other_tenant)

    response = client_for(Role.VIEWER, ("read",)).get("/api/v1/tools/globex.secret/")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_developer_key_with_tools_write_creates_a_tenant_tool(tenant, client_for):
    response = client_for().post("/api/v1/tools/", NEW_TOOL, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["scope"] == "tenant"
    tool = Tool.objects.get(tenant=tenant, name="crm.ping")
    assert tool.approval_condition == "q == 'all'"
    assert AuditEvent.objects.filter(tenant=tenant, action="tool.created", target_id=str(tool.pk)).exists()


def test_a_read_only_key_cannot_create(client_for):
    response = client_for(Role.DEVELOPER, ("read",)).post("/api/v1/tools/", NEW_TOOL, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Tool.objects.filter(name="crm.ping").exists()


def test_a_role_without_manage_tools_cannot_create(client_for):
    response = client_for(Role.OPERATOR, ("read", "tools:write")).post("/api/v1/tools/", NEW_TOOL, format="json")

    assert response.status_code == 403 and not Tool.objects.filter(name="crm.ping").exists()


def test_an_invalid_schema_is_a_400_envelope(client_for):
    bad = {**NEW_TOOL, "input_schema": {"type": "object", "properties": {"q": {"type": 7}}}}

    response = client_for().post("/api/v1/tools/", bad, format="json")

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid"
    assert "Not a valid JSON Schema" in error["details"]["input_schema"][0]
    assert not Tool.objects.filter(name="crm.ping").exists()


def test_a_tool_naming_the_cloud_metadata_service_is_a_400_envelope(client_for):
    bad = {**NEW_TOOL, "config": {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}}

    response = client_for().post("/api/v1/tools/", bad, format="json")

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid"
    assert "169.254.169.254 is link-local (cloud metadata)" in error["details"]["config"][0]
    assert not Tool.objects.filter(name="crm.ping").exists()


def test_a_python_tool_cannot_be_created_over_the_api(client_for):
    response = client_for().post("/api/v1/tools/", {**NEW_TOOL, "kind": "python"}, format="json")

    assert response.status_code == 400 and "kind" in response.json()["error"]["details"]


def test_a_duplicate_name_is_a_409(client_for, make_tool):
    make_tool("crm.ping")

    response = client_for().post("/api/v1/tools/", NEW_TOOL, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"


def test_patching_a_code_tools_policy_gives_the_tenant_its_own_copy(tenant, client_for):
    response = client_for().patch("/api/v1/tools/kb.search/", {"approval": "always"}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["scope"], response.json()["approval"]) == ("tenant", "always")
    assert Tool.objects.get(name="kb.search", tenant=None).approval == "never"


def test_patching_a_code_tools_definition_is_refused(client_for):
    response = client_for().patch("/api/v1/tools/kb.search/", {"description": "Other."}, format="json")

    assert response.status_code == 400
    assert "only its policies" in response.json()["error"]["details"]["description"][0]


def test_patching_a_tenant_tool_is_validated_as_a_whole(make_tool, client_for):
    make_tool("crm.ping", input_schema={"type": "object", "properties": {"amount": {"type": "number"}}})

    response = client_for().patch("/api/v1/tools/crm.ping/", {"approval": "when", "approval_condition": "amout > 5"},
                                  format="json")

    assert response.status_code == 400
    assert "'amout'" in response.json()["error"]["details"]["approval_condition"][0]


def test_a_name_cannot_be_patched(make_tool, client_for):
    make_tool("crm.ping")

    response = client_for().patch("/api/v1/tools/crm.ping/", {"name": "crm.pong"}, format="json")

    assert response.status_code == 400 and "name" in response.json()["error"]["details"]
