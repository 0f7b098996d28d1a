"""Built-in tools an agent uses to read and write long-term memory: `memory.search` and
`memory.save`. Granted to an agent version like any tool, they pass the gateway (the user's
permission, the argument schema, the audit log) and are journaled as tool steps.

They reach only the memory of the run's own user, agent and tenant, within the scopes the agent
version's memory policy allows (agentops.memory.policy): never another user's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agentops.audit.services import Actor
from agentops.memory.policy import MemoryPolicy, scope_pairs, scope_subject
from agentops.memory.selectors import memory_search
from agentops.memory.services import MemoryError, memory_save
from tools.models import Effect
from tools.registry import ToolContext, ToolError, tool


def _run_of(ctx: ToolContext):
    if ctx.run is None:
        raise ToolError("memory tools work only inside a run: they act for the run's user and agent")
    return ctx.run


def _username(ctx: ToolContext) -> str | None:
    return ctx.user.get_username() if ctx.user is not None else None


@tool(
    name="memory.search",
    description="Search what was remembered about the user (and the agent's and organisation's notes) from "
                "earlier conversations: preferences, facts. Returns the best matches, most relevant first.",
    idempotent=True,
)
def memory_search_tool(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=1, max_length=500, description="What to look for, in plain words.")],
    limit: Annotated[int, Field(ge=1, le=20, description="How many items to return.")] = 5,
) -> dict:
    run = _run_of(ctx)
    policy = MemoryPolicy.from_config(run.agent_version.memory)
    pairs = scope_pairs(policy.read, username=_username(ctx), agent_slug=run.agent.slug)
    if not pairs:
        raise ToolError("this agent's memory policy lets it read no memory for this run")
    found = memory_search(tenant=ctx.tenant, query=query, scopes=pairs, limit=limit)
    return {"query": query, "results": [{"content": scored.item.content, "kind": scored.item.kind,
                                         "scope": scored.item.scope} for scored in found]}


@tool(
    name="memory.save",
    description="Remember a lasting fact or preference for later conversations, e.g. 'Prefers email over "
                "phone'. Saving the same thing twice keeps one item.",
    effect=Effect.WRITE,
    idempotent=True,  # the store merges duplicates: a retried save leaves one item
)
def memory_save_tool(
    ctx: ToolContext,
    content: Annotated[str, Field(min_length=1, max_length=2000, description="One short sentence.")],
    kind: Annotated[Literal["fact", "preference"], Field(description="A fact or a preference.")] = "fact",
    scope: Annotated[Literal["user", "agent", "tenant"],
                     Field(description="Whose memory: the user's (default), the agent's, or everyone's.")] = "user",
) -> dict:
    run = _run_of(ctx)
    if scope not in MemoryPolicy.from_config(run.agent_version.memory).write:
        raise ToolError(f"this agent's memory policy does not allow writing to the {scope} scope")
    subject = scope_subject(scope, username=_username(ctx), agent_slug=run.agent.slug)
    if subject is None:
        raise ToolError("the run acts for no user, so it has no user memory")
    step = int(ctx.idempotency_key.rsplit(":", 1)[1]) if ":" in ctx.idempotency_key else None
    try:
        item = memory_save(tenant=ctx.tenant, scope=scope, subject=subject, kind=kind, content=content,
                           source_run=run.pk, source_step=step, actor=Actor.for_run(run))
    except MemoryError as error:
        raise ToolError(error.message) from None
    return {"id": item.pk, "scope": scope, "kind": kind, "content": item.content}
