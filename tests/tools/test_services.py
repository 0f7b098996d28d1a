"""Registry writes: validated on save, audited with their diff, code tools keep their definition."""

import pytest
from django.contrib.auth.models import Group
from guardian.models import UserObjectPermission

from agentops.audit.models import AuditEvent
from agentops.tenancy.models import TenantGroup
from agentops.tenancy.roles import Role
from tools.errors import ToolConflict, ToolInvalid
from tools.models import Tool
from tools.registry import REGISTRY, tool
from tools.services import tool_create, tool_delete, tool_sync, tool_update, tool_use_grant

from .conftest import ACTOR


def test_an_invalid_json_schema_is_refused_on_save(tenant, make_tool):
    # Given/When a tool whose input schema is not valid JSON Schema
    with pytest.raises(ToolInvalid) as refused:
        make_tool("crm.ping", input_schema={"type": "object", "properties": {"q": {"type": "strng"}}})

    # Then nothing is saved and the error names the field
    assert "input_schema" in refused.value.errors
    assert "Not a valid JSON Schema" in refused.value.errors["input_schema"][0]
    assert not Tool.objects.filter(name="crm.ping").exists()


def test_arguments_schema_must_describe_an_object(make_tool):
    with pytest.raises(ToolInvalid, match='"type": "object"'):
        make_tool("crm.ping", input_schema={"type": "string"})


def test_the_adapter_checks_its_configuration(make_tool):
    with pytest.raises(ToolInvalid) as refused:
        make_tool("crm.ping", config={"url": "ftp://example.com/x"})

    assert "config" in refused.value.errors


def test_an_unsafe_approval_condition_is_refused_on_save(make_tool):
    with pytest.raises(ToolInvalid) as refused:
        make_tool("crm.ping", approval="when", approval_condition="__import__('os').system('id')")

    assert "approval_condition" in refused.value.errors


def test_a_condition_needs_the_when_policy(make_tool):
    with pytest.raises(ToolInvalid, match="unless approval is 'when'"):
        make_tool("crm.ping", approval="always", approval_condition="amount > 1")


def test_a_retry_policy_with_unknown_keys_is_refused(make_tool):
    with pytest.raises(ToolInvalid, match="Unknown keys attempts"):
        make_tool("crm.ping", retry_policy={"attempts": 3})


def test_creating_a_tool_is_audited(tenant, make_tool):
    tool = make_tool("crm.ping")

    event = AuditEvent.objects.get(tenant=tenant, action="tool.created")
    assert event.target_id == str(tool.pk) and event.data["name"] == "crm.ping"


def test_a_second_tool_of_the_same_name_in_a_tenant_conflicts(make_tool):
    make_tool("crm.ping")

    with pytest.raises(ToolConflict):
        make_tool("crm.ping")


def test_a_change_is_audited_with_its_before_and_after(tenant, make_tool):
    # Given a tool
    tool = make_tool("crm.ping")

    # When its timeout changes
    tool_update(tool=tool, changes={"timeout_seconds": 5.0}, actor=ACTOR)

    # Then one tool.changed event holds the diff
    event = AuditEvent.objects.get(tenant=tenant, action="tool.changed")
    assert event.changes == {"timeout_seconds": [30.0, 5.0]}


def test_a_change_to_nothing_writes_nothing(tenant, make_tool):
    tool = make_tool("crm.ping")

    tool_update(tool=tool, changes={"timeout_seconds": tool.timeout_seconds}, actor=ACTOR)

    assert not AuditEvent.objects.filter(tenant=tenant, action="tool.changed").exists()


def test_a_code_tool_changes_only_its_policies(db):
    kb = Tool.objects.get(name="kb.search", tenant=None)

    with pytest.raises(ToolInvalid, match="defined in code"):
        tool_update(tool=kb, changes={"description": "Something else."}, actor=ACTOR)
    tool_update(tool=kb, changes={"approval": "always"}, actor=ACTOR)

    kb.refresh_from_db()
    assert kb.approval == "always" and kb.description != "Something else."


def test_a_tenant_change_to_a_global_tool_makes_the_tenant_its_own_copy(tenant, other_tenant):
    # Given the global kb.search
    kb = Tool.objects.get(name="kb.search", tenant=None)

    # When one tenant requires approval for it
    copy = tool_update(tool=kb, changes={"approval": "always"}, actor=ACTOR, tenant=tenant)

    # Then that tenant has its own row and the global one, which other tenants use, is untouched
    kb.refresh_from_db()
    assert copy.tenant == tenant and copy.kind == "python" and copy.approval == "always"
    assert kb.approval == "never"
    assert AuditEvent.objects.filter(tenant=tenant, action="tool.created", target_id=str(copy.pk)).exists()
    assert not AuditEvent.objects.filter(tenant=other_tenant, target_id=str(copy.pk)).exists()


def test_a_tenant_cannot_change_a_global_tools_definition(tenant, make_tool):
    shared = make_tool("crm.shared", tenant=None)

    with pytest.raises(ToolInvalid, match="global tool"):
        tool_update(tool=shared, changes={"config": {"url": "http://tools.invalid/other"}}, actor=ACTOR, tenant=tenant)


def test_python_tools_come_only_from_code(tenant):
    with pytest.raises(ToolInvalid, match="declared in code"):
        tool_create(tenant=tenant, name="my.code", kind="python", actor=ACTOR, description="x",
                    config={"callable": "os.system"})


def test_deleting_a_tool_is_audited(tenant, make_tool):
    tool = make_tool("crm.ping")
    pk = tool.pk

    tool_delete(tool=tool, actor=ACTOR)

    assert not Tool.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="tool.deleted", target_id=str(pk)).exists()


def test_deleting_a_tool_removes_its_object_permissions(tenant, member, make_tool):
    tool = make_tool("crm.ping")
    tool_use_grant(tool=tool, user=member("sam", Role.VIEWER), tenant=tenant, actor=ACTOR)
    pk = tool.pk

    tool_delete(tool=tool, actor=ACTOR)

    assert not UserObjectPermission.objects.filter(object_pk=str(pk)).exists()


def test_a_tool_cannot_become_a_python_tool(make_tool):
    tool = make_tool("crm.ping")

    with pytest.raises(ToolInvalid, match="declared in code"):
        tool_update(tool=tool, changes={"kind": "python", "config": {"callable": "x"}}, actor=ACTOR)


# The configuration cache: every write clears it when it commits.


@pytest.fixture
def new_code_tool():
    @tool(name="test.ping", description="Answers pong.")
    def ping() -> dict:
        return {"pong": True}

    yield
    del REGISTRY["test.ping"]


@pytest.mark.parametrize("write", [
    "create", "update", "tenant_copy", "sync", "grant", "delete",
])
def test_a_write_clears_the_configuration_cache_when_it_commits(write, tenant, member, make_tool, new_code_tool,
                                                               cache_after_commit):
    # Given a tool, and a write to the registry
    ping = make_tool("crm.ping")
    kb = Tool.objects.get(name="kb.search", tenant=None)
    writes = {
        "create": lambda: make_tool("crm.pong"),
        "update": lambda: tool_update(tool=ping, changes={"enabled": False}, actor=ACTOR),
        "tenant_copy": lambda: tool_update(tool=kb, changes={"enabled": False}, actor=ACTOR, tenant=tenant),
        "sync": lambda: tool_sync(actor=ACTOR),
        "grant": lambda: tool_use_grant(tool=ping, user=member("sam", Role.VIEWER), tenant=tenant, actor=ACTOR),
        "delete": lambda: tool_delete(tool=ping, actor=ACTOR),
    }

    # When it commits / Then what was cached before is read again
    assert cache_after_commit(writes[write]) is False


def test_a_change_to_nothing_keeps_the_configuration_cache(make_tool, cache_after_commit):
    ping = make_tool("crm.ping")

    assert cache_after_commit(lambda: tool_update(tool=ping, changes={"enabled": True}, actor=ACTOR)) is True


def test_a_tenant_tool_names_only_its_own_tenants_groups(tenant, other_tenant, make_tool):
    ours = Group.objects.create(name="our-approvers")
    TenantGroup.objects.create(group=ours, tenant=tenant)
    theirs = Group.objects.create(name="their-approvers")
    TenantGroup.objects.create(group=theirs, tenant=other_tenant)
    platform = Group.objects.create(name="platform-approvers")

    for group in (theirs, platform):
        with pytest.raises(ToolInvalid) as refused:
            make_tool("crm.refund", approval="always", approver_group=group)
        assert refused.value.errors["approver_group"] == [f"No group with id {group.pk} in this tenant."]

    tool = make_tool("crm.refund", approval="always", approver_group=ours)
    with pytest.raises(ToolInvalid) as refused:
        tool_update(tool=tool, changes={"escalation_group": theirs}, actor=ACTOR, tenant=tenant)
    assert "escalation_group" in refused.value.errors
    tool.refresh_from_db()
    assert (tool.approver_group, tool.escalation_group) == (ours, None)
