"""`ctx.llm`: one model call through the gateway, with retries, budgets checked first, cost recorded.

A model call is repeatable: its row waits for the run's next write (see recorder). Only the
messages added since the previous call of the same conversation are journaled; the tool list,
the same on every call of a run, is stored once as a blob.
"""

from __future__ import annotations

from dataclasses import asdict
from django.utils import timezone

from agentops import config_cache
from agentops.llm.base import LLMResponse, ProviderError, ToolSpec
from agentops.llm.gateway import complete_with_retries
from agentops.llm.pricing import cost_of, price_pick, price_rows, price_snapshot
from agentops.llm.registry import get_provider
from agentops.retry import RetryPolicy
from agentops.agents.models import Agent
from agentops.tenancy.models import BudgetPolicy, Tenant

from ...budgets import budget_uses, budget_warn
from ...deltas import DeltaRelay
from ...errors import RunFailure
from ...journal import BlobWriter
from ...models import StepKind, StepStatus
from .approval import budget_approval_open, budget_approval_replay, is_budget_step

DEFAULT_LLM_RETRY = {"max_attempts": 4, "base_delay": 1.0, "max_delay": 30.0}


class ModelCalls:
    """The model calls of one execution: the conversations so far, for journaling only what each
    call adds."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.conversations: dict[str, tuple[int, list]] = {}
        self.last_tools: tuple[list, list[dict]] | None = None
        self.prompt_tokens: dict[str, int] = {}  # conversation -> prompt tokens its latest call reported

    def call(self, messages: list[dict], *, tools: list[ToolSpec] | None, model: str | None,
             temperature: float | None, conversation: str) -> LLMResponse:
        ctx, journal = self.ctx, self.ctx.journal
        model = model or ctx.version.model
        temperature = ctx.version.temperature if temperature is None else temperature
        budget_gate(ctx)
        seq, recorded = journal.next(StepKind.LLM, model)
        if recorded is not None:
            if recorded.status == StepStatus.FAILED:
                raise RunFailure("model_error", (recorded.error or {}).get("message", "the model call failed"))
            response = LLMResponse.from_dict(recorded.output)
        else:
            response = self._call(seq, model, messages, tools or [], temperature, conversation)
        self.conversations[conversation] = (seq, [*messages, response.to_message()])
        self.prompt_tokens[conversation] = response.usage.input_tokens
        ctx.last_reason = response.content or ""
        return response

    def _call(self, seq, model, messages, tools, temperature, conversation) -> LLMResponse:
        ctx, journal = self.ctx, self.ctx.journal
        config = ctx.version.provider_config or {}
        attempts: list[dict] = []
        started_at = timezone.now()
        step_input = self._input(model, messages, tools, temperature, conversation)
        relay = DeltaRelay(ctx.run.pk, seq)  # the text, live, to streams following the run
        try:
            provider = get_provider(ctx.version.provider, config, tenant_id=ctx.run.tenant_id)
            with ctx.lease.keepalive():
                response = complete_with_retries(
                    provider, model=model, messages=messages, tools=tools, temperature=temperature,
                    timeout=float(config.get("timeout", 60)), on_delta=relay,
                    policy=RetryPolicy.from_dict(config.get("retry", DEFAULT_LLM_RETRY)), deadline=journal.deadline(),
                    on_retry=lambda n, exc, delay: attempts.append({"attempt": n, "error": str(exc),
                                                                     "delay": round(delay, 3)}),
                )
        except ProviderError as exc:
            relay.flush()
            error = {"code": "model_error", "message": exc.message, "status": exc.status, "attempts": attempts}
            journal.insert(seq, StepKind.LLM, model, StepStatus.FAILED, input=step_input, error=error,
                           started_at=started_at, attempt=len(attempts) + 1, model=model)
            raise RunFailure("model_error", f"the model call failed: {exc.message}") from exc
        relay.flush()
        self._record(seq, model, step_input, response, started_at, attempts)
        return response

    def _input(self, model, messages, tools, temperature, conversation) -> dict:
        previous = self.conversations.get(conversation)
        if previous and messages[: len(previous[1])] == previous[1]:
            previous_seq, added = previous[0], messages[len(previous[1]):]
        else:
            previous_seq, added = None, messages
        return {"conversation": conversation, "previous": previous_seq, "messages": added,
                "tools": self._tool_dicts(tools), "model": model, "temperature": temperature}

    def _tool_dicts(self, tools: list[ToolSpec]) -> list[dict]:
        """The tool list as journaled; a loop passes the same list to every call, so it is built once."""
        if self.last_tools is None or self.last_tools[0] is not tools:
            self.last_tools = (tools, [asdict(t) for t in tools])
        return self.last_tools[1]

    def _record(self, seq, model, step_input, response: LLMResponse, started_at, attempts) -> None:
        # The model's price rows: a run calls the same model many times (see config_cache). The
        # price is the one in effect when the call started, of the tier its prompt falls in.
        name, usage = response.model or model, response.usage
        price = price_pick(config_cache.cached(("model-prices", name), lambda: price_rows(name)), name,
                           at=started_at, prompt_tokens=usage.input_tokens)
        cost = cost_of(usage, price)
        blobs = BlobWriter(self.ctx.journal.blobs_stored)
        # The tool list is the same on every call of a run: store it once, by content. The
        # input's other parts are packed one by one, so no blob ever nests another.
        step_input = {**step_input, "messages": blobs.pack(step_input["messages"]),
                      "tools": blobs.pack(step_input["tools"], force=True) if step_input["tools"] else []}
        new = self.ctx.journal.new_step(
            seq, StepKind.LLM, model, StepStatus.COMPLETED, input=step_input, output=response.to_dict(),
            error={"retries": attempts} if attempts else None, started_at=started_at, blobs=blobs, pack_input=False,
            attempt=len(attempts) + 1, model=response.model or model, tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens, tokens_cached=usage.cached_input_tokens, cost=cost,
            price=price_snapshot(price), usage={"model_calls": 1, "tokens_in": usage.input_tokens,
                                                 "tokens_out": usage.output_tokens, "cost": cost},
        )
        self.ctx.journal.write(new, defer=True)
        self.ctx.run.cost += cost


def budget_gate(ctx) -> None:
    """Before a new model call: the budget approvals recorded at this point are replayed (a
    rejected one fails the run), then the budgets are checked again. A replayed model call passed
    its check when it was made."""
    journal, approved = ctx.journal, False
    while is_budget_step(journal.upcoming()):
        budget_approval_replay(ctx)
        approved = True
    if journal.upcoming() is not None:
        return
    if journal.defers_model_call():
        journal.write_deferred()  # at most one model call is ever unwritten: budgets see every cost
    budgets_check(ctx, fresh=approved)


def budgets_check(ctx, *, fresh: bool = False) -> None:
    """The run's cost limit, then its tenant's and agent's budgets, before a model call spends
    more: a used-up budget fails the run or, under the tenant's `pause` policy, parks it on a budget
    approval (the call is not made until an owner raises the budget and approves). `fresh`: read
    the budgets from the database, not the configuration cache, which may not have seen the raise
    an approval was just given for."""
    max_cost = ctx.version.max_cost
    if max_cost is not None and ctx.run.cost >= max_cost:
        raise RunFailure("max_cost_exceeded", f"the run has spent ${ctx.run.cost} of its ${max_cost} limit")
    tenant, agent = ctx.tenant, ctx.run.agent
    if fresh:
        tenant, agent = Tenant.objects.get(pk=tenant.pk), Agent.objects.get(pk=agent.pk)
    uses = budget_uses(tenant=tenant, agent=agent)
    if not uses:
        return
    budget_warn(tenant=tenant, uses=uses)
    exceeded = next((use for use in uses if use.exceeded), None)
    if exceeded is None:
        return
    if tenant.budget_policy == BudgetPolicy.PAUSE:
        budget_approval_open(ctx, exceeded)
    raise RunFailure(exceeded.code, exceeded.describe(tenant.slug), details=exceeded.as_dict())
