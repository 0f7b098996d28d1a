"""`ctx.recall`, `ctx.remember` and a thread's history: each memory access is a `memory` step of
the journal, replayed from it and never done again (a recall does not search twice).

What a run may read and write is its agent version's memory policy (agentops.memory.policy),
resolved to (scope, subject) pairs for the run's user and agent: a run reads and writes the memory
of the user it acts for, never another user's.
"""

from __future__ import annotations

from agentops.audit.services import Actor
from agentops.memory.policy import scope_pairs, scope_subject
from agentops.memory.selectors import memory_search
from agentops.memory.services import memory_save
from agentops.memory.threads import thread_summary_save

from ...errors import MemoryRefused
from ...models import StepKind
from ...threads import thread_history_read
from .code import code_step

DEFAULT_RECALL = 5


def _username(run) -> str | None:
    user = run.end_user
    return user.get_username() if user is not None else None


def _refuse(message: str):
    raise MemoryRefused("memory_scope_refused", message)


def recall(ctx, query: str, *, scopes=None, kind: str | None = None, limit: int | None = None) -> list[dict]:
    """The items of the readable scopes that best answer `query`, best first, as dicts
    (id, scope, subject, kind, content, score). `scopes` narrows the policy's `read` scopes."""
    policy = ctx.memory_policy
    scopes = list(policy.read if scopes is None else scopes)
    outside = [scope for scope in scopes if scope not in policy.read]
    if outside:
        _refuse(f"this agent's memory policy does not allow reading the {', '.join(outside)} scope")
    pairs = scope_pairs(scopes, username=_username(ctx.run), agent_slug=ctx.run.agent.slug)
    limit = limit or policy.recall or DEFAULT_RECALL
    recorded = code_step(ctx, "memory.recall", _search, (ctx.tenant, query, pairs, kind, limit), {},
                         repeatable=True, kind=StepKind.MEMORY)
    return recorded["items"]


def _search(tenant, query, pairs, kind, limit) -> dict:
    found = memory_search(tenant=tenant, query=query, scopes=pairs, kind=kind, limit=limit) if pairs else []
    return {"query": query, "scopes": [list(pair) for pair in pairs], "kind": kind,
            "items": [_item(scored.item) | {"score": round(scored.score, 6)} for scored in found]}


def _item(item) -> dict:
    return {"id": item.pk, "scope": item.scope, "subject": item.subject, "kind": item.kind, "content": item.content}


def remember(ctx, content: str, *, kind: str = "fact", scope: str = "user", metadata: dict | None = None) -> dict:
    """Store `content` in `scope` (a `write` scope of the policy) for the run's user or agent, with
    the run and this step as its provenance; returns the stored item (merged if a duplicate)."""
    if scope not in ctx.memory_policy.write:
        _refuse(f"this agent's memory policy does not allow writing to the {scope} scope")
    subject = scope_subject(scope, username=_username(ctx.run), agent_slug=ctx.run.agent.slug)
    if subject is None:
        _refuse("the run acts for no user, so it has no user memory")
    return code_step(ctx, "memory.remember", _save, (ctx, scope, subject, kind, content, metadata), {},
                     repeatable=False, kind=StepKind.MEMORY)


def _save(ctx, scope, subject, kind, content, metadata) -> dict:
    item = memory_save(tenant=ctx.tenant, scope=scope, subject=subject, kind=kind, content=content,
                       metadata=metadata, source_run=ctx.run.pk, source_step=ctx.journal.seq,
                       actor=Actor.for_run(ctx.run))
    return _item(item) | {"source_run": str(ctx.run.pk), "source_step": ctx.journal.seq}


def thread_history(ctx) -> dict:
    """The run's thread as it stood when the run started: its summary and the turns after it."""
    return code_step(ctx, "thread.history", thread_history_read, (ctx.run,), {}, repeatable=True,
                     kind=StepKind.MEMORY)


def thread_summary_keep(ctx, *, summary: str, through_run: str, turns: int) -> dict:
    """Keep a new summary of the thread's turns up to `through_run` on the thread."""
    def save():
        thread_summary_save(thread_id=ctx.run.thread_ref_id, summary=summary, through_run=through_run, turns=turns)
        return {"summary": summary, "through_run": through_run, "turns": turns}

    return code_step(ctx, "thread.summarise", save, (), {}, repeatable=False, kind=StepKind.MEMORY)
