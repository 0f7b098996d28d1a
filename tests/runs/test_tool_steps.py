"""Tool calls inside runs: the gateway, approvals and bad model output, through the agent loop."""

import json

import pytest

from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from runs.models import RunStatus, Step, StepKind, StepStatus, WaitingReason
from tests.support.tool_servers import Reply, ScriptedHTTPServer
from tools.services import tool_create
from agentops.audit.services import Actor

pytestmark = pytest.mark.django_db

REFUND_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                 "required": ["order_id", "amount"], "additionalProperties": False}


@pytest.fixture
def billing(allow_outbound):
    with ScriptedHTTPServer(lambda request: Reply(200, {"refund": request.json()})) as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture
def refund_tool(tenant, billing):
    return tool_create(tenant=tenant, name="billing.refund", kind="http", actor=Actor.system("test"),
                       description="Refund an order.", input_schema=REFUND_SCHEMA, effect="write", idempotent=True,
                       config={"method": "POST", "url": f"{billing.url}/refunds"},
                       approval="when", approval_condition="amount > 50")


def loop_run(start_run, *responses, tools=("billing.refund",), message="Refund order 7"):
    return start_run("agent_loop", {"message": message}, provider="scripted", tools=list(tools),
                     provider_config={"responses": list(responses)})


def calls(name, arguments):
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def tool_messages(run):
    """The tool results the model was given, from the journal of its last call."""
    last = Step.objects.filter(run=run, kind=StepKind.LLM).order_by("-seq").first()
    return [json.loads(m["content"]) for m in last.input["messages"] if m["role"] == "tool"]


def test_tool_call_is_executed_once_journaled_with_its_key_and_audited(start_run, advance, refund_tool, billing):
    run = advance(loop_run(start_run, calls("billing__refund", {"order_id": "7", "amount": 20}), {"content": "Done."}))

    step = Step.objects.get(run=run, kind=StepKind.TOOL)
    assert run.status == RunStatus.SUCCEEDED and run.output["answer"] == "Done."
    assert (step.name, step.status) == ("billing.refund", StepStatus.COMPLETED)
    assert step.input["idempotency_key"] == f"{run.pk}:{step.seq}"
    assert billing.requests[0].headers["idempotency-key"] == f"{run.pk}:{step.seq}"
    assert step.output == {"refund": {"order_id": "7", "amount": 20}}
    assert AuditEvent.objects.filter(action="tool.called", target_id=str(run.pk)).count() == 1


@pytest.mark.parametrize("arguments, code", [
    ('{"order_id": "7", "amount": ', "invalid_json"),
    ({"order_id": "7"}, "invalid_arguments"),
])
def test_bad_arguments_go_back_to_the_model_and_the_loop_continues(start_run, advance, refund_tool, billing,
                                                                   arguments, code):
    run = advance(loop_run(start_run, calls("billing__refund", arguments), {"content": "Sorry."}))

    assert run.status == RunStatus.SUCCEEDED
    assert tool_messages(run)[0]["error"] == code
    assert billing.requests == []


def test_unknown_tool_goes_back_to_the_model(start_run, advance, refund_tool, billing):
    run = advance(loop_run(start_run, calls("crm__delete_everything", {}), {"content": "I can't."}))

    assert run.status == RunStatus.SUCCEEDED
    assert tool_messages(run)[0]["error"] == "unknown_tool"


def test_user_without_permission_is_refused_and_the_tool_never_runs(start_run, advance, refund_tool, billing,
                                                                     member, principal, tenant):
    viewer = member("vera", Role.VIEWER)
    run = loop_run(start_run, calls("billing__refund", {"order_id": "7", "amount": 20}), {"content": "No."})
    type(run).objects.filter(pk=run.pk).update(on_behalf_of=viewer)

    run = advance(run)

    refusal = tool_messages(run)[0]
    assert refusal["error"] == "permission_denied" and "vera" in refusal["message"]
    assert billing.requests == []
    assert AuditEvent.objects.filter(action="tool.refused", tenant=tenant).exists()


def test_gated_call_waits_for_approval_then_runs_with_the_edited_arguments(start_run, advance, refund_tool, billing,
                                                                          approver, tenant):
    run = advance(loop_run(start_run, calls("billing__refund", {"order_id": "7", "amount": 80}), {"content": "Ok."}))
    assert (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.APPROVAL)
    assert billing.requests == []
    request = ApprovalRequest.objects.get(run=run)

    approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                    arguments={"order_id": "7", "amount": 40}, principal=Principal(
                        tenant=tenant, user=approver, membership=Membership.objects.get(user=approver)))
    run = advance(run)

    assert run.status == RunStatus.SUCCEEDED
    assert [r.json() for r in billing.requests] == [{"order_id": "7", "amount": 40}]
    kinds = list(Step.objects.filter(run=run).values_list("kind", "status"))
    assert ("approval", "completed") in kinds and ("tool", "completed") in kinds


def test_rejection_reaches_the_model_as_a_tool_result(start_run, advance, refund_tool, billing, approver, tenant):
    run = advance(loop_run(start_run, calls("billing__refund", {"order_id": "7", "amount": 80}), {"content": "Ok."}))
    request = ApprovalRequest.objects.get(run=run)

    approval_decide(request_id=request.pk, user=approver, verdict="reject", seen_hash=request.current_hash,
                    comment="Over the limit for this customer.", principal=Principal(
                        tenant=tenant, user=approver, membership=Membership.objects.get(user=approver)))
    run = advance(run)

    result = tool_messages(run)[0]
    assert run.status == RunStatus.SUCCEEDED
    assert result["error"] == "approval_rejected" and "Over the limit" in result["message"]
    assert billing.requests == []


def test_replay_after_a_wait_does_not_call_completed_tools_again(start_run, advance, refund_tool, billing,
                                                                 approver, tenant):
    run = advance(loop_run(
        start_run,
        calls("billing__refund", {"order_id": "7", "amount": 20}),
        calls("billing__refund", {"order_id": "8", "amount": 90}),
        {"content": "Both done."},
    ))
    assert run.status == RunStatus.WAITING and len(billing.requests) == 1
    request = ApprovalRequest.objects.get(run=run)
    approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                    principal=Principal(tenant=tenant, user=approver, membership=Membership.objects.get(user=approver)))

    run = advance(run)

    assert run.status == RunStatus.SUCCEEDED
    assert [r.json()["order_id"] for r in billing.requests] == ["7", "8"]


@pytest.mark.parametrize("effect, idempotent, journaled_before_the_call", [
    ("read", True, False),  # nothing to protect: written after the call, with the steps before it
    ("read", False, True),
    ("write", True, True),
])
def test_a_call_is_recorded_as_started_before_it_runs_unless_it_is_an_idempotent_read(
        start_run, advance, effect, idempotent, journaled_before_the_call):
    from tools.registry import REGISTRY, ToolContext, tool
    from tools.services import tool_sync

    seen = []

    @tool(name="test.peek", description="Report the journal as the call sees it.", effect=effect,
          idempotent=idempotent)
    def peek(ctx: ToolContext) -> dict:
        seen.extend(Step.objects.filter(run=ctx.run).order_by("seq").values_list("kind", "status"))
        return {"ok": True}

    try:
        tool_sync(actor=Actor.system("test"))
        run = advance(loop_run(start_run, calls("test__peek", {}), {"content": "Done."}, tools=("test.peek",)))
    finally:
        del REGISTRY["test.peek"]

    assert run.status == RunStatus.SUCCEEDED
    # A call that may have an effect starts only once the model call that asked for it is durable.
    assert seen == ([(StepKind.CODE, StepStatus.COMPLETED), (StepKind.LLM, StepStatus.COMPLETED),
                     (StepKind.TOOL, StepStatus.STARTED)] if journaled_before_the_call else [])
    assert list(Step.objects.filter(run=run).order_by("seq").values_list("kind", "status")) == [
        (StepKind.CODE, StepStatus.COMPLETED), (StepKind.LLM, StepStatus.COMPLETED),
        (StepKind.TOOL, StepStatus.COMPLETED), (StepKind.LLM, StepStatus.COMPLETED)]
    step = Step.objects.get(run=run, kind=StepKind.TOOL)
    assert step.output == {"ok": True}
    assert step.input["idempotency_key"] == f"{run.pk}:{step.seq}"
    assert AuditEvent.objects.filter(action="tool.called", target_id=str(run.pk)).count() == 1


def test_a_refused_address_is_journaled_with_its_code_and_told_to_the_model(start_run, advance, tenant, settings):
    # Given a tenant's tool whose address the platform stopped allowing after it was saved
    with ScriptedHTTPServer(lambda request: Reply(200, {})) as inside:
        settings.AGENTOPS_OUTBOUND_ALLOW = [f"127.0.0.1:{inside.port}"]
        tool_create(tenant=tenant, name="crm.fetch", kind="http", actor=Actor.system("test"), description="Fetch.",
                    config={"url": f"{inside.url}/customers"}, idempotent=True)
        settings.AGENTOPS_OUTBOUND_ALLOW = []

        # When the model calls it
        run = advance(loop_run(start_run, calls("crm__fetch", {}), {"content": "I could not reach the CRM."},
                               tools=("crm.fetch",)))

    # Then the step failed with the refusal's code, the model read it, and nothing reached the server
    step = Step.objects.get(run=run, kind=StepKind.TOOL)
    assert run.status == RunStatus.SUCCEEDED and step.status == StepStatus.FAILED
    assert step.error["code"] == "outbound_address_refused" and step.error["retryable"] is False
    assert tool_messages(run)[0]["error"] == "outbound_address_refused"
    assert inside.requests == []
