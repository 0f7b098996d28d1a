"""A run as an OpenTelemetry trace, built from its journal after it ends (docs/observability.md).

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set, the transaction that ends a
run queues `runs.tasks.export_run_trace`; the task reads the run and its journal and sends one
trace over OTLP/HTTP. Nothing is traced while the run works, so a slow or absent collector never
slows a run down: at worst the task fails and the trace is lost.

The spans follow the GenAI semantic conventions: `invoke_agent {agent}` at the root, a
`chat {requested model}` span per model call, `execute_tool {tool}` per tool call, `await_approval {title}`
per approval with its decision, and a span per other step. Their times are the steps' own; the
trace id is the run's UUID and each span id derives from (run, seq), so a run that waited and
resumed on other workers is one trace, and exporting it twice sends the same spans. Prompts,
answers, tool arguments and results are attached only with AGENTOPS_OTEL_CAPTURE_CONTENT=true.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict, deque
from datetime import datetime

from django.conf import settings
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentops.llm.registry import provider_name
from tools.models import name_from_wire

from .journal_view import blobs_for, resolved
from .models import FINISHED_STATUSES, Run, Step, StepKind, StepStatus

SCOPE = InstrumentationScope("agentops.runs")
ROOT_SEQ = 0


def otel_traces_endpoint() -> str:
    """Where traces go, or "" when export is off."""
    if settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:
        return settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    base = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    return f"{base.rstrip('/')}/v1/traces" if base else ""


def trace_id_of(run_id) -> int:
    return uuid.UUID(str(run_id)).int or 1  # a trace id may not be zero


def span_id_of(run_id, seq: int) -> int:
    digest = hashlib.sha256(f"{run_id}:{seq}".encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1


def run_trace_export(*, run_id) -> bool:
    """Send the trace of the ended run `run_id`; False when there is nothing to send (export off,
    no such run, not ended yet) or the collector refused it."""
    endpoint = otel_traces_endpoint()
    run = Run.objects.select_related("agent", "agent_version").filter(pk=run_id).first()
    if not endpoint or run is None or run.status not in FINISHED_STATUSES:
        return False
    steps = list(Step.objects.filter(run=run).order_by("seq"))
    blobs = blobs_for([value for step in steps for value in (step.input, step.output)])
    for step in steps:
        step.input, step.output = resolved(step.input, blobs), resolved(step.output, blobs)
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=settings.AGENTOPS_OTEL_EXPORT_TIMEOUT_SECONDS)
    try:
        return exporter.export(run_spans(run, steps)) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def run_spans(run: Run, steps: list[Step]) -> list[ReadableSpan]:
    """The root span of the run and one span per step, parented by `parent_seq`."""
    builder = _SpanBuilder(run)
    call_ids = _tool_call_ids(steps)
    spans = [builder.root()]
    for step in steps:
        spans.append(builder.step_span(step, call_ids.get(step.seq)))
    return spans


class _SpanBuilder:
    def __init__(self, run: Run):
        self.run = run
        self.version = run.agent_version
        self.capture = settings.AGENTOPS_OTEL_CAPTURE_CONTENT
        self.resource = Resource.create({"service.name": settings.OTEL_SERVICE_NAME})
        self.end = run.finished_at or run.updated_at

    def context(self, seq: int) -> SpanContext:
        return SpanContext(trace_id_of(self.run.pk), span_id_of(self.run.pk, seq), is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))

    def span(self, name: str, seq: int, *, parent: int | None, kind: SpanKind, attributes: dict,
             start: datetime, end: datetime | None, error: str | None) -> ReadableSpan:
        return ReadableSpan(
            name=name, context=self.context(seq), parent=self.context(parent) if parent is not None else None,
            resource=self.resource, attributes={k: v for k, v in attributes.items() if v not in (None, "")},
            kind=kind, instrumentation_scope=SCOPE, start_time=_nanos(start), end_time=_nanos(end or self.end),
            status=Status(StatusCode.ERROR, error) if error else Status(StatusCode.UNSET))

    def common(self) -> dict:
        return {"gen_ai.agent.name": self.run.agent.slug, "gen_ai.conversation.id": self.run.thread,
                "gen_ai.provider.name": provider_name(self.version.provider), "agentops.run.id": str(self.run.pk)}

    def root(self) -> ReadableSpan:
        run, error = self.run, _error_type(self.run.error)
        attributes = {**self.common(), "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": str(run.agent_id),
                      "gen_ai.request.model": self.version.model, "gen_ai.usage.input_tokens": run.tokens_in,
                      "gen_ai.usage.output_tokens": run.tokens_out, "agentops.run.status": run.status,
                      "agentops.agent.version": self.version.number, "error.type": error}
        if self.capture:
            attributes["gen_ai.input.messages"] = _json(run.input)
            attributes["gen_ai.output.messages"] = _json(run.output)
        return self.span(f"invoke_agent {run.agent.slug}", ROOT_SEQ, parent=None, kind=SpanKind.INTERNAL,
                         attributes=attributes, start=run.started_at or run.created_at, end=run.finished_at,
                         error=error)

    def step_span(self, step: Step, call_id: str | None) -> ReadableSpan:
        error = _error_type(step.error) if step.status in (StepStatus.FAILED, StepStatus.IN_DOUBT) else None
        name, kind, attributes = self._describe(step, call_id)
        attributes |= {"agentops.step.seq": step.seq, "agentops.step.status": step.status, "error.type": error}
        return self.span(name, step.seq, parent=step.parent_seq or ROOT_SEQ, kind=kind, attributes=attributes,
                         start=step.started_at, end=step.finished_at, error=error)

    def _describe(self, step: Step, call_id: str | None) -> tuple[str, SpanKind, dict]:
        if step.kind == StepKind.LLM:
            return f"chat {step.name}", SpanKind.CLIENT, self._chat(step)  # the model asked for
        if step.kind == StepKind.TOOL:
            attributes = {**self.common(), "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step.name,
                          "gen_ai.tool.call.id": call_id, "gen_ai.tool.type": "function"}
            if self.capture:
                attributes["gen_ai.tool.call.arguments"] = _json((step.input or {}).get("arguments"))
                attributes["gen_ai.tool.call.result"] = _json(step.output)
            return f"execute_tool {step.name}", SpanKind.INTERNAL, attributes
        if step.kind == StepKind.APPROVAL:
            return f"await_approval {step.name}", SpanKind.INTERNAL, _approval(step)
        return f"{step.kind} {step.name}", SpanKind.INTERNAL, {"agentops.step.kind": step.kind}

    def _chat(self, step: Step) -> dict:
        output, step_input = step.output or {}, step.input or {}
        attributes = {**self.common(), "gen_ai.operation.name": "chat",
                      "gen_ai.request.model": step_input.get("model") or step.name,
                      "gen_ai.response.model": step.model, "gen_ai.usage.input_tokens": step.tokens_in,
                      "gen_ai.usage.output_tokens": step.tokens_out,
                      "gen_ai.request.temperature": step_input.get("temperature")}
        if output.get("finish_reason"):
            attributes["gen_ai.response.finish_reasons"] = [output["finish_reason"]]
        if self.capture:
            attributes["gen_ai.input.messages"] = _json(step_input.get("messages"))
            attributes["gen_ai.output.messages"] = _json([{k: output.get(k) for k in ("content", "tool_calls")}])
        return attributes


def _approval(step: Step) -> dict:
    """The decision as delivered to the step (runs.waits.ApprovalOutcome), or none yet."""
    outcome = step.output or {}
    return {"agentops.approval.decision": outcome.get("status") or "pending", "agentops.approval.decided_by": outcome.get("decided_by"),
            "agentops.approval.comment": outcome.get("comment")}


def _tool_call_ids(steps: list[Step]) -> dict[int, str]:
    """{tool step seq: the model's tool call id}: a model step's calls (named in their wire form,
    `orders__lookup`) are matched, by name and in order, with the tool steps that follow it (the
    journal keeps the id in the model's output only)."""
    pending: dict[str, deque] = defaultdict(deque)
    ids = {}
    for step in steps:
        if step.kind == StepKind.LLM:
            pending.clear()
            for call in (step.output or {}).get("tool_calls") or ():
                pending[name_from_wire(call.get("name") or "")].append(call.get("id"))
        elif step.kind == StepKind.TOOL and pending[step.name]:
            ids[step.seq] = pending[step.name].popleft()
    return ids


def _error_type(error) -> str | None:
    if not error:
        return None
    return str(error.get("code") or "error") if isinstance(error, dict) else "error"


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
