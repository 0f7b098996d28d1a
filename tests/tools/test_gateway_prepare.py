"""ToolSession.prepare and .specs: resolution, grants, permissions, argument checks, approval."""

import time
from types import SimpleNamespace

import pytest

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from agentops.tenancy.services import membership_set
from tools.gateway import ToolRefused, ToolSession, tool_execute, tool_refusal_audit
from tools.models import Tool
from tools.services import tool_update, tool_use_grant

from .conftest import ACTOR

REFUND_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0}},
    "required": ["order_id", "amount"],
    "additionalProperties": False,
}


def refused(run, name, arguments=None) -> ToolRefused:
    with pytest.raises(ToolRefused) as info:
        ToolSession(run).prepare(name, arguments if arguments is not None else {})
    return info.value


def test_a_tenant_tool_shadows_the_global_tool_of_its_name(tenant, operator, make_tool, make_run):
    # Given a global crm.ping and the tenant's own crm.ping
    make_tool("crm.ping", tenant=None, description="global")
    own = make_tool("crm.ping", description="tenant's own")
    run = make_run(operator, tools=["crm.ping"])

    # When the run prepares a call
    prepared = ToolSession(run).prepare("crm.ping", {})

    # Then the tenant's tool is the one called
    assert prepared.tool == own


def test_another_tenants_tool_is_unknown(tenant, other_tenant, operator, make_tool, make_run):
    # Given a tool of another tenant, granted by name to this tenant's agent
    make_tool("globex.secret", tenant=other_tenant)
    run = make_run(operator, tools=["globex.secret"])

    # Then it does not exist for this run
    assert refused(run, "globex.secret").code == "unknown_tool"


def test_an_ungranted_tool_is_refused(operator, make_tool, make_run):
    make_tool("crm.ping")
    run = make_run(operator, tools=["kb.search"])

    refusal = refused(run, "crm.ping")

    assert (refusal.code, refusal.message) == ("not_granted", "tool crm.ping is not granted to this agent")


def test_a_disabled_tool_is_refused(operator, make_tool, make_run):
    make_tool("crm.ping", enabled=False)
    run = make_run(operator, tools=["crm.ping"])

    assert refused(run, "crm.ping").code == "disabled"


def test_a_user_without_permission_is_refused_and_nothing_is_called(member, make_tool, make_run, http_server):
    # Given a refund tool pointing at a live server, and a viewer (no use_tools) the run acts for
    make_tool("billing.refund", config={"method": "POST", "url": f"{http_server.url}/refunds"},
              input_schema=REFUND_SCHEMA)
    sam = member("sam", Role.VIEWER)
    run = make_run(sam, tools=["billing.refund"])

    # When the engine prepares the call (and would execute it only if prepared)
    try:
        prepared = ToolSession(run).prepare("billing.refund", {"order_id": "1042", "amount": 10})
        tool_execute(prepared=prepared, idempotency_key=f"{run.pk}:1", deadline=None)
    except ToolRefused as refusal:
        outcome = refusal

    # Then it is refused by name, user and tool, and the server never saw a request
    assert outcome.code == "permission_denied"
    assert outcome.message == "permission denied: user sam may not use billing.refund"
    assert http_server.requests == []


def test_the_run_acts_for_its_on_behalf_of_user(operator, member, make_tool, make_run):
    # Given an operator's run on behalf of a viewer
    make_tool("crm.ping")
    viewer = member("vera", Role.VIEWER)
    run = make_run(operator, tools=["crm.ping"], on_behalf_of=viewer)

    # Then the viewer's permissions bound the run
    assert refused(run, "crm.ping").message == "permission denied: user vera may not use crm.ping"


def test_a_guardian_permission_grants_one_tool(tenant, member, make_tool, make_run):
    # Given a viewer granted use of crm.ping only
    ping, pong = make_tool("crm.ping"), make_tool("crm.pong")
    sam = member("sam", Role.VIEWER)
    tool_use_grant(tool=ping, user=sam, tenant=tenant, actor=ACTOR)
    run = make_run(sam, tools=["crm.ping", "crm.pong"])

    # Then that one tool can be prepared, the other cannot
    assert ToolSession(run).prepare("crm.ping", {}).tool == ping
    assert refused(run, "crm.pong").code == "permission_denied"
    assert pong.pk != ping.pk


def test_a_user_outside_the_tenant_is_refused_even_with_an_object_permission(
        tenant, other_tenant, member, make_tool, make_run):
    ping = make_tool("crm.ping", tenant=None)
    outsider = member("otto", Role.OPERATOR, in_tenant=other_tenant)
    tool_use_grant(tool=ping, user=outsider, tenant=other_tenant, actor=ACTOR)
    run = make_run(outsider, tools=["crm.ping"])

    assert refused(run, "crm.ping").code == "permission_denied"


def test_a_run_for_no_user_is_refused(make_tool, make_run):
    make_tool("crm.ping")
    run = make_run(None, tools=["crm.ping"])

    assert refused(run, "crm.ping").message == "permission denied: the run acts for no user, so it may not use crm.ping"


def test_a_schema_violation_is_refused_with_readable_reasons(operator, make_tool, make_run):
    make_tool("billing.refund", input_schema=REFUND_SCHEMA)
    run = make_run(operator, tools=["billing.refund"])

    refusal = refused(run, "billing.refund", {"order_id": 1042, "amount": -5})

    assert refusal.code == "invalid_arguments"
    assert refusal.message.startswith("invalid arguments for billing.refund: ")
    assert "amount: -5 is less than or equal to the minimum of 0" in refusal.message
    assert "order_id: 1042 is not of type 'string'" in refusal.message


def test_a_missing_argument_is_named(operator, make_tool, make_run):
    make_tool("billing.refund", input_schema=REFUND_SCHEMA)
    run = make_run(operator, tools=["billing.refund"])

    assert "arguments: 'amount' is a required property" in refused(run, "billing.refund", {"order_id": "1"}).message


def test_arguments_that_are_not_json_are_refused(operator, make_tool, make_run):
    make_tool("crm.ping")
    run = make_run(operator, tools=["crm.ping"])

    refusal = refused(run, "crm.ping", '{"q": ')

    assert refusal.code == "invalid_json" and refusal.message.startswith("arguments are not valid JSON")


def test_json_text_arguments_are_parsed(operator, make_tool, make_run):
    make_tool("billing.refund", input_schema=REFUND_SCHEMA)
    run = make_run(operator, tools=["billing.refund"])

    prepared = ToolSession(run).prepare("billing.refund", '{"order_id": "1042", "amount": 20}')

    assert prepared.arguments == {"order_id": "1042", "amount": 20} and prepared.approval is None


def test_the_approval_policy_is_applied(operator, make_tool, make_run):
    make_tool("billing.refund", input_schema=REFUND_SCHEMA, effect="write", approval="when",
              approval_condition="amount > 50", required_approvals=2)
    run = make_run(operator, tools=["billing.refund"])

    small = ToolSession(run).prepare("billing.refund", {"order_id": "1", "amount": 50})
    large = ToolSession(run).prepare("billing.refund", {"order_id": "1", "amount": 75})

    assert small.approval is None
    assert large.approval.reason == "billing.refund needs approval when amount > 50 (amount = 75)"
    assert (large.approval.risk, large.approval.required_approvals) == ("high", 2)


def test_the_wire_name_the_model_sees_is_accepted(operator, make_tool, make_run):
    ping = make_tool("crm.ping")
    run = make_run(operator, tools=["crm.ping"])

    assert ToolSession(run).prepare("crm__ping", "").tool == ping


def test_specs_list_granted_enabled_tools_with_wire_names(operator, make_tool, make_run):
    # Given three granted tools, one disabled, and an ungranted one
    make_tool("crm.ping", input_schema=REFUND_SCHEMA)
    make_tool("crm.off", enabled=False)
    make_tool("crm.other")
    run = make_run(operator, tools=["crm.ping", "crm.off", "kb.search", "crm.missing"])

    specs = ToolSession(run).specs()

    # Then the model is offered the enabled, existing, granted ones in grant order
    assert [spec.name for spec in specs] == ["crm__ping", "kb__search"]
    assert specs[0].parameters == REFUND_SCHEMA and specs[0].description == "The crm.ping tool."


def test_specs_follow_the_tenants_shadowing_tool(tenant, operator, make_run):
    kb = Tool.objects.get(name="kb.search", tenant=None)
    tool_update(tool=kb, changes={"enabled": False}, actor=ACTOR, tenant=tenant)
    run = make_run(operator, tools=["kb.search"])

    assert ToolSession(run).specs() == []


def test_a_refusal_is_audited(tenant, member, make_tool, make_run):
    make_tool("crm.ping")
    sam = member("sam", Role.VIEWER)
    run = make_run(sam, tools=["crm.ping"])

    tool_refusal_audit(run=run, name="crm__ping", refusal=refused(run, "crm__ping"))

    event = AuditEvent.objects.get(tenant=tenant, action="tool.refused")
    assert event.data == {"tool": "crm.ping", "code": "permission_denied", "user": "sam",
                          "message": "permission denied: user sam may not use crm.ping"}


def test_the_registry_is_read_once_and_again_when_the_cache_expires_or_is_invalidated(
        tenant, member, make_tool, make_run, monkeypatch, settings, django_assert_num_queries,
        django_capture_on_commit_callbacks):
    # Given a run of an operator that has checked one call
    settings.CONFIG_CACHE_SECONDS = 5
    # In this process's memory, whose clock the test moves (with REDIS_URL the cache is Redis's)
    settings.CACHES = {**settings.CACHES, "config": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                                     "LOCATION": "gateway-expiry-test"}}
    tool = make_tool("crm.ping")
    operator = member("olga", Role.OPERATOR)
    run = make_run(operator, tools=["crm.ping"])
    later = [0]  # seconds the caches believe have passed when they check an entry's age
    clock = SimpleNamespace(time=lambda: time.time() + later[0])
    monkeypatch.setattr("django.core.cache.backends.locmem.time", clock)
    monkeypatch.setattr("agentops.config_cache.time", clock)
    ToolSession(run).prepare("crm.ping", {})

    # When another process disables the tool (a write no service of this process invalidated)
    Tool.objects.filter(pk=tool.pk).update(enabled=False)

    # Then calls within the cache's lifetime are checked without a query, even by a new session
    with django_assert_num_queries(0):
        ToolSession(run).prepare("crm.ping", {})
    # And once it has expired, the change applies
    later[0] += 6
    with pytest.raises(ToolRefused) as refusal:
        ToolSession(run).prepare("crm.ping", {})
    assert refusal.value.code == "disabled"

    # And a change made through a service applies at once, when it commits
    Tool.objects.filter(pk=tool.pk).update(enabled=True)
    later[0] += 6
    ToolSession(run).prepare("crm.ping", {})
    with django_capture_on_commit_callbacks(execute=True):
        membership_set(tenant=tenant, user=operator, role=Role.VIEWER, actor=ACTOR)
    with pytest.raises(ToolRefused) as refusal:
        ToolSession(run).prepare("crm.ping", {})
    assert refusal.value.code == "permission_denied"
