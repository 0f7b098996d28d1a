"""Built-in workflows. `agent_loop` is the tool-calling loop an AgentVersion configures."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.core.serializers.json import DjangoJSONEncoder

from agentops.llm.base import ToolSpec
from tools.errors import ToolError

from .registry import workflow


def _tool_specs(ctx) -> list[dict]:
    return [asdict(spec) for spec in ctx.tool_session.specs()]


def _first_messages(ctx, input: dict) -> list[dict]:
    messages = []
    if ctx.version.system_prompt:
        messages.append({"role": "system", "content": ctx.version.system_prompt})
    text = input.get("message") if isinstance(input, dict) else None
    messages.append({"role": "user", "content": text if text is not None else json.dumps(input, cls=DjangoJSONEncoder)})
    return messages


@workflow("agent_loop")
def agent_loop(ctx, input: dict) -> dict:
    """Ask the model, run the tools it calls, hand back their results, until it answers.

    The tool list is journaled once (a repeatable code step), so a run keeps the tools it started with even
    if the registry changes while it waits. Tool errors (refusals, rejections, failures, invalid
    arguments) go back to the model as tool results; the run's limits bound the loop.
    """
    tools = [ToolSpec(**spec) for spec in ctx.read_step("tools", _tool_specs, ctx)]
    messages = _first_messages(ctx, input)
    tool_calls_made = 0
    while True:
        response = ctx.llm(messages, tools=tools)
        messages.append(response.to_message())
        if not response.tool_calls:
            return {"answer": response.content or "", "tool_calls": tool_calls_made}
        for call in response.tool_calls:
            tool_calls_made += 1
            messages.append({"role": "tool", "tool_call_id": call.id, "content": _tool_result(ctx, call)})


def _tool_result(ctx, call) -> str:
    try:
        result = ctx.tool(call.name, call.arguments)
    except ToolError as error:
        return json.dumps({"error": error.code, "message": error.message})
    return json.dumps(result, cls=DjangoJSONEncoder, ensure_ascii=False)
