"""Runs and journals built directly with the ORM, for tests of the pages that read them.

Steps are laid out 100 ms apart from the run's start unless told otherwise, so durations and the
timeline scale are predictable. Model steps follow the engine's delta format: `input.messages`
holds only the messages added since the call `input.previous` of the same conversation.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from runs.journal import BLOB_KEY, canonical_json
from runs.models import Blob, Run, RunStatus, Step, StepKind, StepStatus
from runs.preview import input_preview, output_preview

STEP_SPACING = timedelta(milliseconds=100)
PRICE = {"model": "gpt-4o-mini", "input_per_mtok": "0.15", "cached_input_per_mtok": "0.075", "output_per_mtok": "0.60"}


def cost_at(price: dict, tokens_in: int, tokens_out: int) -> Decimal:
    total = tokens_in * Decimal(price["input_per_mtok"]) + tokens_out * Decimal(price["output_per_mtok"])
    return (total / 1_000_000).quantize(Decimal("0.000001"))


def make_run(agent, *, status=RunStatus.RUNNING, created_by=None, on_behalf_of=None, started_at=None,
             **fields) -> Run:
    """A run of `agent`'s current version; `started_at` defaults to a minute ago for started runs.
    Its previews are what the service would write, unless given."""
    if started_at is None and status != RunStatus.QUEUED:
        started_at = timezone.now() - timedelta(minutes=1)
    run_input = fields.pop("input", {"message": "Where is my order 1042?"})
    fields.setdefault("input_preview", input_preview(run_input))
    fields.setdefault("output_preview", output_preview(fields.get("output"), fields.get("error")))
    return Run.objects.create(
        tenant=agent.tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop",
        status=status, created_by=created_by, on_behalf_of=on_behalf_of, started_at=started_at,
        input=run_input, **fields,
    )


def step_time(run: Run, seq: int):
    return (run.started_at or run.created_at) + STEP_SPACING * (seq - 1)


def add_step(run: Run, seq: int, *, kind=StepKind.CODE, name=None, status=StepStatus.COMPLETED,
             duration_ms: int = 80, **fields) -> Step:
    started_at = fields.pop("started_at", step_time(run, seq))
    finished = status in (StepStatus.COMPLETED, StepStatus.FAILED)
    return Step.objects.create(
        run=run, seq=seq, kind=kind, name=name or f"{kind}-{seq}", status=status, started_at=started_at,
        finished_at=started_at + timedelta(milliseconds=duration_ms) if finished else None, **fields,
    )


def blob(value) -> dict:
    """Store `value` as a blob and return the reference a step would hold."""
    text = canonical_json(value)
    digest = hashlib.sha256(text.encode()).hexdigest()
    Blob.objects.get_or_create(sha256=digest, defaults={"data": json.loads(text), "size": len(text)})
    return {BLOB_KEY: digest}


def reply(content=None, tool_calls=(), *, tokens=(120, 30)) -> dict:
    """A model response as the engine records it (LLMResponse.to_dict())."""
    return {
        "content": content,
        "tool_calls": [{"id": f"call_{name}", "name": name, "arguments": json.dumps(args)}
                       for name, args in tool_calls],
        "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1], "cached_input_tokens": 0},
        "model": "gpt-4o-mini",
        "finish_reason": "tool_calls" if tool_calls else "stop",
    }


def add_model_call(run: Run, seq: int, added, *, previous=None, response=None, tools=None,
                   conversation="main", **fields) -> Step:
    """A completed model step holding the `added` messages (a list, or a blob reference to one)."""
    response = response or reply("ok")
    usage = response["usage"]
    fields.setdefault("tokens_in", usage["input_tokens"])
    fields.setdefault("tokens_out", usage["output_tokens"])
    fields.setdefault("price", PRICE)
    fields.setdefault("cost", cost_at(PRICE, usage["input_tokens"], usage["output_tokens"]))
    return add_step(
        run, seq, kind=StepKind.LLM, name="gpt-4o-mini", model="gpt-4o-mini",
        duration_ms=fields.pop("duration_ms", 900),
        input={"conversation": conversation, "previous": previous, "messages": added, "tools": tools or [],
               "model": "gpt-4o-mini", "temperature": None},
        output=response, **fields,
    )


def add_tool_call(run: Run, seq: int, name="lookup_order", arguments=None, result=None, *,
                  status=StepStatus.COMPLETED, **fields) -> Step:
    return add_step(
        run, seq, kind=StepKind.TOOL, name=name, status=status, duration_ms=fields.pop("duration_ms", 150),
        input={"arguments": arguments or {"order": 1042}, "idempotency_key": f"{run.pk}:{seq}"},
        output=result if status == StepStatus.COMPLETED else None, **fields,
    )


def add_mixed_steps(run: Run, count: int, *, first_seq: int = 1) -> list[Step]:
    """`count` steps cycling through a model call, a tool call and a code step (bulk inserted),
    the model calls chained by `previous` and sharing one tools blob, as the engine writes them."""
    tools = blob([{"name": "lookup_order", "description": "Find an order", "parameters": {"type": "object"}}])
    steps, previous = [], None
    for seq in range(first_seq, first_seq + count):
        started_at = step_time(run, seq)
        common = dict(run=run, seq=seq, status=StepStatus.COMPLETED, started_at=started_at,
                      finished_at=started_at + timedelta(milliseconds=80))
        if seq % 3 == 1:
            steps.append(Step(**common, kind=StepKind.LLM, name="gpt-4o-mini", model="gpt-4o-mini",
                              input={"conversation": "main", "previous": previous, "tools": tools,
                                     "messages": [{"role": "user", "content": f"message {seq}"}]},
                              output=reply(None, [("lookup_order", {"order": seq})]),
                              tokens_in=100, tokens_out=20, cost=Decimal("0.00003")))
            previous = seq
        elif seq % 3 == 2:
            steps.append(Step(**common, kind=StepKind.TOOL, name="lookup_order",
                              input={"arguments": {"order": seq}}, output={"status": "shipped"}))
        else:
            steps.append(Step(**common, kind=StepKind.CODE, name=f"code-{seq}", output={"n": seq}))
    Step.objects.bulk_create(steps)
    Run.objects.filter(pk=run.pk).update(step_count=first_seq + count - 1)
    return steps
