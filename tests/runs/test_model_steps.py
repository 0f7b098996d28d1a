"""Model calls inside runs: through the real openai client and a local OpenAI-compatible server."""

from decimal import Decimal

import pytest
from django.utils import timezone

from agentops.llm.models import ModelPrice
from runs.journal import is_blob_ref
from runs.models import DailyUsage, RunStatus, Step, StepKind
from runs.registry import workflow
from runs.waits import run_resume

pytestmark = pytest.mark.django_db


@workflow("test_chat_pause_chat")
def chat_pause_chat(ctx, input):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": input["message"]}]
    first = ctx.llm(messages)
    messages += [first.to_message(), {"role": "user", "content": "And then?"}]
    ctx.sleep(3600)
    second = ctx.llm(messages)
    return {"first": first.content, "second": second.content}


@workflow("test_chat_loop")
def chat_loop(ctx, input):
    messages = [{"role": "user", "content": "start"}]
    for i in range(input["calls"]):
        response = ctx.llm(messages)
        messages += [response.to_message(), {"role": "user", "content": f"turn {i}"}]
    return {}


def wake(run):
    Step.objects.filter(run=run, kind=StepKind.SLEEP).update(output={"wake_at": timezone.now().isoformat()})
    run_resume(run_id=run.pk)


def test_resumed_run_does_not_call_the_model_again_for_completed_calls(openai_server, start_run, advance):
    openai_server.reply("One.", usage={"prompt_tokens": 10, "completion_tokens": 2})
    openai_server.reply("Two.", usage={"prompt_tokens": 20, "completion_tokens": 2})
    run = advance(start_run("test_chat_pause_chat", {"message": "Count."}, provider="openai", model="gpt-4o-mini"))
    assert run.status == RunStatus.WAITING and len(openai_server.chat_requests) == 1

    wake(run)
    run = advance(run)

    assert run.status == RunStatus.SUCCEEDED
    assert run.output == {"first": "One.", "second": "Two."}
    assert len(openai_server.chat_requests) == 2
    assert openai_server.chat_requests[1].body["messages"][-1] == {"role": "user", "content": "And then?"}


def test_model_step_journals_only_the_messages_added_since_the_previous_call(openai_server, start_run, advance):
    openai_server.reply("One.")
    openai_server.reply("Two.")
    run = advance(start_run("test_chat_pause_chat", {"message": "Count."}, provider="openai"))
    wake(run)
    advance(run)

    first, second = Step.objects.filter(run=run, kind=StepKind.LLM).order_by("seq")
    assert first.input["previous"] is None and len(first.input["messages"]) == 2
    assert second.input["previous"] == first.seq
    assert second.input["messages"] == [{"role": "user", "content": "And then?"}]


def test_model_step_records_tokens_cost_and_the_price_used(openai_server, start_run, advance):
    ModelPrice.objects.update_or_create(model="gpt-4o-mini", defaults=dict(
        input_per_mtok=Decimal("1"), cached_input_per_mtok=Decimal("0.5"), output_per_mtok=Decimal("2")))
    openai_server.reply("Hi.", usage={"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 400})
    run = advance(start_run("test_chat_loop", {"calls": 1}, provider="openai", model="gpt-4o-mini"))

    step = Step.objects.get(run=run, kind=StepKind.LLM)
    # 600 uncached at $1/M + 400 cached at $0.5/M + 500 out at $2/M
    assert step.cost == Decimal("0.001800")
    assert (step.tokens_in, step.tokens_out, step.tokens_cached) == (1000, 500, 400)
    assert step.price["input_per_mtok"].startswith("1.")
    assert run.cost == Decimal("0.001800") and run.tokens_in == 1000
    assert DailyUsage.objects.get(tenant=run.tenant, agent=run.agent).cost == Decimal("0.001800")


def test_rate_limited_model_call_is_retried_and_the_retry_journaled(openai_server, start_run, advance):
    openai_server.error(429, headers={"Retry-After": "0"})
    openai_server.reply("Fine.")
    run = advance(start_run("test_chat_loop", {"calls": 1}, provider="openai",
                            provider_config={"retry": {"max_attempts": 3, "base_delay": 0}}))

    step = Step.objects.get(run=run, kind=StepKind.LLM)
    assert run.status == RunStatus.SUCCEEDED
    assert step.attempt == 2 and step.error["retries"][0]["attempt"] == 1
    assert len(openai_server.chat_requests) == 2


def test_permanent_model_error_fails_the_run_readably(openai_server, start_run, advance):
    openai_server.error(400, body={"error": {"message": "bad model", "type": "invalid_request_error"}})
    run = advance(start_run("test_chat_loop", {"calls": 1}, provider="openai"))

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "model_error"
    assert len(openai_server.chat_requests) == 1


def test_max_cost_is_checked_before_each_model_call(openai_server, start_run, advance):
    ModelPrice.objects.update_or_create(model="gpt-4o", defaults=dict(
        input_per_mtok=Decimal("1000"), cached_input_per_mtok=Decimal("1000"), output_per_mtok=Decimal("1000")))
    for _ in range(3):
        openai_server.reply("x", usage={"prompt_tokens": 1000, "completion_tokens": 0})
    run = advance(start_run("test_chat_loop", {"calls": 3}, provider="openai", model="gpt-4o", max_cost=Decimal("1.5")))

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "max_cost_exceeded"
    assert len(openai_server.chat_requests) == 2  # $1 after the first, $2 after the second: the third never goes


def test_tenant_daily_budget_stops_new_model_calls(openai_server, start_run, advance, tenant):
    type(tenant).objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("0.01"))
    first = advance(start_run("test_chat_loop", {"calls": 1}, provider="scripted"))
    DailyUsage.objects.filter(tenant=tenant).update(cost=Decimal("0.02"))

    run = advance(start_run("test_chat_loop", {"calls": 1}, provider="openai"))

    assert first.status == RunStatus.SUCCEEDED
    assert run.error["code"] == "tenant_budget_exceeded"
    assert openai_server.chat_requests == []


def test_model_journal_grows_linearly_and_stores_the_tool_list_once(start_run, advance, settings):
    settings.JOURNAL_BLOB_THRESHOLD = 64

    @workflow("test_tools_every_call")
    def tools_every_call(ctx, input):
        from agentops.llm.base import ToolSpec

        tools = [ToolSpec("lookup", "Look things up " * 20, {"type": "object", "properties": {}})]
        messages = [{"role": "user", "content": "go"}]
        for i in range(input["calls"]):
            messages += [ctx.llm(messages, tools=tools).to_message(), {"role": "user", "content": f"more {i}"}]
        return {}

    run = advance(start_run("test_tools_every_call", {"calls": 6}, provider="scripted", max_steps=50))

    steps = list(Step.objects.filter(run=run, kind=StepKind.LLM))
    tool_refs = {s.input["tools"]["$blob"] for s in steps}
    assert run.status == RunStatus.SUCCEEDED and len(steps) == 6
    assert len(tool_refs) == 1 and all(is_blob_ref(s.input["tools"]) for s in steps)
    assert all(len(s.input["messages"]) == 1 for s in steps[1:])
