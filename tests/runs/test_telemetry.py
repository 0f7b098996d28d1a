"""Runs exported as OpenTelemetry traces to a real OTLP/HTTP receiver: the demo's refund run
(model calls, a tool call, an approval, the refund) becomes one trace with the GenAI
semantic-convention spans, sent by a task after the run ends."""

import uuid

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from runs.engine import execute_run
from runs.models import Run, Step, StepKind
from runs.tasks import export_run_trace
from runs.telemetry import span_id_of
from approvals.models import ApprovalRequest
from tests.demo.conftest import DEMO_DATABASES
from tests.support.otlp_receiver import OtlpReceiver
from tools.models import name_from_wire

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)


@pytest.fixture
def receiver(settings):
    with OtlpReceiver() as receiver:
        settings.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint
        yield receiver


def queued_functions() -> list[str]:
    """The functions of the tasks waiting in the broker (the database's or Redis), taken out."""
    broker, functions = get_broker(), []
    while broker.queue_size():
        taken = broker.dequeue()
        if not taken:
            break
        for task_id, payload in taken:
            functions.append(SignedPackage.loads(payload)["func"])
            broker.acknowledge(task_id)
    return functions


def refund_decided(demo_api) -> Run:
    """The demo's refund run, approved by the owner and finished by a worker (this process)."""
    request = ApprovalRequest.objects.get(run_id=demo_api["run_id"])
    decided = demo_api["client"].post(f"/api/v1/approvals/{request.pk}/approve/",
                                      {"seen_hash": request.current_hash}, format="json")
    assert decided.status_code == 200, decided.content
    execute_run(demo_api["run_id"])
    return Run.objects.get(pk=demo_api["run_id"])


def test_an_ended_run_queues_its_export_and_sends_nothing_itself(demo_api, receiver,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the Redis broker queues after the commit
        run = refund_decided(demo_api)

    assert run.status == "succeeded"
    assert "runs.tasks.export_run_trace" in queued_functions()
    assert receiver.spans == []  # the run's own path never talks to the collector


def test_no_export_is_queued_without_an_endpoint(demo_api, settings, django_capture_on_commit_callbacks):
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""

    with django_capture_on_commit_callbacks(execute=True):
        refund_decided(demo_api)

    assert "runs.tasks.export_run_trace" not in queued_functions()


def test_the_run_is_one_trace_of_genai_spans_under_invoke_agent(demo_api, receiver):
    run = refund_decided(demo_api)

    assert export_run_trace(str(run.pk)) == "exported"

    spans = receiver.spans
    steps = list(Step.objects.filter(run=run).order_by("seq"))
    assert len(spans) == len(steps) + 1
    assert {span.trace_id for span in spans} == {uuid.UUID(str(run.pk)).hex}
    (root,) = receiver.spans_named("invoke_agent")
    assert root.name == "invoke_agent support" and root.parent_span_id == ""
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "support"
    assert root.attributes["gen_ai.provider.name"] == "demo"
    assert root.attributes["gen_ai.usage.input_tokens"] == run.tokens_in > 0
    assert root.service_name == "agentops"
    assert {span.parent_span_id for span in spans if span is not root} == {root.span_id}

    chats = receiver.spans_named("chat ")
    assert len(chats) == sum(1 for step in steps if step.kind == StepKind.LLM)
    asked = run.agent_version.model  # the version's model; the demo provider answers as "demo"
    for chat in chats:
        assert chat.kind == Span.SPAN_KIND_CLIENT and chat.name == f"chat {asked}"
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert (chat.attributes["gen_ai.request.model"], chat.attributes["gen_ai.response.model"]) == (asked, "demo")
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0
        assert root.start_ns <= chat.start_ns <= chat.end_ns <= root.end_ns


def test_tool_spans_carry_the_models_call_ids_and_the_approval_its_decision(demo_api, receiver):
    run = refund_decided(demo_api)
    export_run_trace(str(run.pk))

    calls = {call["id"]: name_from_wire(call["name"]) for step in Step.objects.filter(run=run, kind=StepKind.LLM)
             for call in step.output["tool_calls"]}
    tools = receiver.spans_named("execute_tool ")
    assert {span.attributes["gen_ai.tool.name"] for span in tools} == {"orders.lookup", "billing.refund"}
    for span in tools:
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert calls[span.attributes["gen_ai.tool.call.id"]] == span.attributes["gen_ai.tool.name"]
        assert "gen_ai.tool.call.arguments" not in span.attributes  # content only when opted in
    refund = next(span for span in tools if span.attributes["gen_ai.tool.name"] == "billing.refund")
    failed = Step.objects.get(run=run, kind=StepKind.TOOL, name="billing.refund")  # no billing service here
    assert (refund.status_code, refund.attributes["error.type"]) == (Status.STATUS_CODE_ERROR, failed.error["code"])
    (approval,) = receiver.spans_named("await_approval ")
    assert approval.attributes["agentops.approval.decision"] == "approved"
    assert approval.attributes["agentops.approval.decided_by"] == "owen"


def test_content_goes_only_when_opted_in(demo_api, receiver, settings):
    settings.AGENTOPS_OTEL_CAPTURE_CONTENT = True
    run = refund_decided(demo_api)

    export_run_trace(str(run.pk))

    refund = next(span for span in receiver.spans_named("execute_tool ")
                  if span.attributes["gen_ai.tool.name"] == "billing.refund")
    assert '"order_id"' in refund.attributes["gen_ai.tool.call.arguments"]
    assert "1043" in receiver.spans_named("chat ")[0].attributes["gen_ai.input.messages"]


def test_exporting_again_sends_the_same_spans(demo_api, receiver):
    run = refund_decided(demo_api)

    export_run_trace(str(run.pk))
    first = sorted((span.span_id, span.parent_span_id, span.name) for span in receiver.spans)
    export_run_trace(str(run.pk))

    second = sorted((span.span_id, span.parent_span_id, span.name) for span in receiver.spans[len(first):])
    assert first == second
    assert format(span_id_of(run.pk, 0), "016x") in {span_id for span_id, _, _ in first}


def test_a_run_still_waiting_is_not_exported(demo_api, receiver):
    assert export_run_trace(demo_api["run_id"]) == "not exported"
    assert receiver.requests == 0
