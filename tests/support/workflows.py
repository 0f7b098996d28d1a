"""Workflows for tests that run real worker processes (which import this module at start).

Side effects are appended to a file named in the run's input, one line per execution, so a test
can count how often each step really ran across crashes.
"""

import time

from runs.registry import workflow


def _effect(path: str, line: str, pause: float) -> str:
    time.sleep(pause)
    with open(path, "a") as file:
        file.write(line + "\n")
        file.flush()
    return line


@workflow("test_effects")
def effects(ctx, input):
    """`steps` code steps, each pausing then appending its index (after `tag:` if the input has
    a tag) to `input["effects"]`."""
    prefix = f"{input['tag']}:" if input.get("tag") else ""
    for i in range(input["steps"]):
        ctx.step(f"effect-{i}", _effect, input["effects"], f"{prefix}{i}", input.get("pause", 0.05))
    return {"steps": input["steps"]}


@workflow("test_tool_calls")
def tool_calls(ctx, input):
    """Call the tools listed in input["calls"] ([name, arguments] pairs) one after another."""
    results = [ctx.tool(name, arguments) for name, arguments in input["calls"]]
    return {"results": results}


@workflow("test_sleep")
def sleep_then_step(ctx, input):
    """Sleep `input["seconds"]`, then journal the time it woke at."""
    ctx.sleep(input["seconds"])
    return {"woke_at": ctx.step("woke", time.time)}


@workflow("test_long_conversation")
def long_conversation(ctx, input):
    """`rounds` turns of one conversation: a model call, then a journaled read of its answer, so
    a run of N rounds has 2N steps and its last prompt holds about 2N messages."""
    messages = [{"role": "system", "content": input.get("system", "You count.")}]
    for i in range(input["rounds"]):
        messages.append({"role": "user", "content": f"turn {i}: {input.get('padding', '')}"})
        reply = ctx.llm(messages)
        messages.append({"role": "assistant", "content": reply.content})
        ctx.read_step(f"read-{i}", len, reply.content or "")
    return {"rounds": input["rounds"]}


@workflow("test_decision")
def approval_then_decision(ctx, input):
    """Ask a person to approve `input["arguments"]`, then return the decision."""
    decision = ctx.approval(input.get("title", "Go ahead?"), arguments=input.get("arguments", {}))
    return {"approved": decision.approved, "arguments": decision.arguments, "comment": decision.comment}
