"""Built-in workflows. `agent_loop` is the tool-calling loop an AgentVersion configures."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.core.serializers.json import DjangoJSONEncoder

from agentops.llm.base import ToolSpec
from tools.errors import ToolError

from .conversation import extract_memories, recalled_messages, thread_messages
from .registry import workflow


def _tool_specs(ctx) -> list[dict]:
    return [asdict(spec) for spec in ctx.tool_session.specs()]


def _user_text(input) -> str:
    text = input.get("message") if isinstance(input, dict) else None
    return text if isinstance(text, str) else json.dumps(input, cls=DjangoJSONEncoder)


def _first_messages(ctx, text: str) -> list[dict]:
    """The system prompt, the memory recalled for the message, the thread's history, the message."""
    messages = []
    if ctx.version.system_prompt:
        messages.append({"role": "system", "content": ctx.version.system_prompt})
    messages += recalled_messages(ctx, text)
    if ctx.run.thread_ref_id:
        messages += thread_messages(ctx, text)
    messages.append({"role": "user", "content": text})
    return messages


@workflow("agent_loop")
def agent_loop(ctx, input: dict) -> dict:
    """Ask the model, run the tools it calls, hand back their results, until it answers; then,
    if the memory policy says so, remember what the turn taught about the user.

    A run in a thread starts with the thread's history, and with the long-term memory its policy
    recalls for the message (runs.conversation).

    The tool list is journaled once (a repeatable code step), so a run keeps the tools it started with even
    if the registry changes while it waits. Tool errors (refusals, rejections, failures, invalid
    arguments) go back to the model as tool results; the run's limits bound the loop.
    """
    tools = [ToolSpec(**spec) for spec in ctx.read_step("tools", _tool_specs, ctx)]
    text = _user_text(input)
    messages = _first_messages(ctx, text)
    tool_calls_made = 0
    while True:
        response = ctx.llm(messages, tools=tools)
        messages.append(response.to_message())
        if not response.tool_calls:
            extract_memories(ctx, text, response.content or "")
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
