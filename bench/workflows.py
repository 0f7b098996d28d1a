"""The benchmark's workflows and tool, registered in every process started with
WORKFLOW_MODULES=bench.workflows (the benchmark driver, its children and its workers).

The steps call the peer harness's `common.step_fn`, so the work per step is byte for byte the
work DBOS and LangGraph do in their runs of the same workloads.
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import Field

from bench.env import peers_common
from runs.registry import workflow
from tools.registry import ToolContext, tool

C = peers_common()

W2_STEPS_BEFORE = 20


@workflow("bench_steps")
def bench_steps(ctx, input):
    """W1: `n` sequential durable steps, each one `step_fn(previous result, i)`."""
    r = C.INIT
    for i in range(input["n"]):
        r = ctx.step("step_fn", C.step_fn, r, i)
    return r


@workflow("bench_resume")
def bench_resume(ctx, input):
    """W2: 20 steps, a wait for a human decision, then 1 more step."""
    r = C.INIT
    for i in range(W2_STEPS_BEFORE):
        r = ctx.step("step_fn", C.step_fn, r, i)
    outcome = ctx.approval("resume", arguments={"go": True})
    if not outcome.approved:
        raise RuntimeError(f"the decision was {outcome.status}")
    return ctx.step("step_fn", C.step_fn, r, W2_STEPS_BEFORE)


@tool(name="bench.echo", description="Echo the text back with its length (benchmark tool).", idempotent=True)
def bench_echo(ctx: ToolContext, text: Annotated[str, Field(max_length=2000)]) -> dict:
    return {"echo": text, "length": len(text)}


@workflow("bench_ticks")
def bench_ticks(ctx, input):
    """Recovery: `n` code steps of `pause` seconds each, a run long enough to be killed in."""
    for i in range(input["n"]):
        ctx.step("tick", time.sleep, input["pause"])
