"""What `agent_loop` adds to a conversation from memory: the thread's history (summarised past the
agent's context budget), the long-term items recalled for the message, and the facts extracted
from the turn once it is answered. Every model call and memory access here is a journaled step."""

from __future__ import annotations

from agentops.llm import memory_prompts as prompts
from agentops.memory.policy import scope_pairs

from .engine.steps.memory import thread_history, thread_summary_keep

CHARS_PER_TOKEN = 4  # the estimate of a text's tokens before a model has counted them
KEEP_RAW_TURNS = 1  # the latest turns a summary leaves as they were said


def estimate_tokens(*texts: str) -> int:
    return sum(len(text) for text in texts) // CHARS_PER_TOKEN


def thread_messages(ctx, message: str) -> list[dict]:
    """The messages of the run's thread before `message`: the summary of its older turns, then
    the turns since, as user and assistant messages. Past the version's context budget the older
    turns are summarised first (`thread.summarise`)."""
    history = thread_history(ctx)
    if _over_budget(history, message, ctx.version.context_budget_tokens) and len(history["turns"]) > KEEP_RAW_TURNS:
        history = _summarise(ctx, history)
    messages = [{"role": "system", "content": f"{prompts.SUMMARY_INTRO}\n{history['summary']}"}] \
        if history["summary"] else []
    for turn in history["turns"]:
        messages += [{"role": "user", "content": turn["user"]}, {"role": "assistant", "content": turn["assistant"]}]
    return messages


def _over_budget(history: dict, message: str, budget: int) -> bool:
    """The thread's last reported prompt size plus the text added since (its last answer and the
    new message); without a reported size, the whole history estimated."""
    turns = history["turns"]
    if history["last_prompt_tokens"] and turns:
        used = history["last_prompt_tokens"] + estimate_tokens(turns[-1]["assistant"], message)
    else:
        used = estimate_tokens(history["summary"], message, *(t["user"] + t["assistant"] for t in turns))
    return used > budget


def _summarise(ctx, history: dict) -> dict:
    older, kept = history["turns"][:-KEEP_RAW_TURNS], history["turns"][-KEEP_RAW_TURNS:]
    earlier = f"{prompts.SUMMARY_INTRO}\n{history['summary']}\n\n" if history["summary"] else ""
    response = ctx.llm([{"role": "system", "content": prompts.SUMMARISE_INSTRUCTIONS},
                        {"role": "user", "content": earlier + prompts.transcript(older)}],
                       conversation="thread.summarise")
    turns = history["summary_turns"] + len(older)
    kept_summary = thread_summary_keep(ctx, summary=(response.content or "").strip(), through_run=older[-1]["run"],
                                       turns=turns)
    return {**history, "summary": kept_summary["summary"], "summary_turns": turns, "turns": kept}


def recalled_messages(ctx, message: str) -> list[dict]:
    """The memory block for `message` (a system message), when the policy recalls and items match."""
    policy = ctx.memory_policy
    if not policy.recall or not message.strip():
        return []
    items = ctx.recall(message, limit=policy.recall)
    return [{"role": "system", "content": prompts.memory_block(items)}] if items else []


def extract_memories(ctx, message: str, answer: str) -> int:
    """Ask the model what the turn taught about the user and remember it in the first scope the
    policy writes to that the run has a subject for; returns how many items were stored."""
    policy = ctx.memory_policy
    user = ctx.run.end_user
    writable = scope_pairs(policy.write, username=user.get_username() if user else None,
                           agent_slug=ctx.run.agent.slug)
    if not policy.extract or not writable or not message.strip():
        return 0
    response = ctx.llm([{"role": "system", "content": prompts.EXTRACT_INSTRUCTIONS},
                        {"role": "user", "content": prompts.transcript([{"user": message, "assistant": answer}])}],
                       conversation="memory.extract")
    memories = prompts.extracted_memories(response.content)
    scope = writable[0][0]
    for memory in memories:
        ctx.remember(memory["content"], kind=memory["kind"], scope=scope, metadata={"extracted": True})
    return len(memories)
