"""Past the agent's context budget, a thread's older turns are summarised by the model in a traced
step; the summary is kept on the thread and used by the next runs."""

import pytest

from agentops.llm.memory_prompts import SUMMARISE_INSTRUCTIONS, SUMMARY_INTRO
from agentops.memory.models import Thread
from runs.models import RunStatus, StepKind
from tests.factories import AgentFactory

from .threads_support import execute, model_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_agent(tenant):
    return AgentFactory(tenant=tenant, slug="chat", version__provider="openai", version__model="gpt-4o-mini",
                        version__context_budget_tokens=100)


@pytest.fixture
def two_turns(chat_agent, say, openai_server):
    """Two answered runs in thread t1; the model reported a prompt of 150 tokens for the second."""
    openai_server.reply(content="First answer.", usage={"prompt_tokens": 20, "completion_tokens": 3})
    first = execute(say(chat_agent, "First question?"))
    openai_server.reply(content="Second answer.", usage={"prompt_tokens": 150, "completion_tokens": 3})
    second = execute(say(chat_agent, "Second question?"))
    return first, second


def test_within_the_budget_nothing_is_summarised(two_turns, openai_server):
    assert len(openai_server.chat_requests) == 2  # no summarising call for the second run
    assert not Thread.objects.get(external_id="t1").summary


def test_past_the_budget_the_older_turns_are_summarised_before_the_call(two_turns, chat_agent, say, openai_server):
    first, second = two_turns
    openai_server.reply(content="The user asked a first question and got a first answer.")
    openai_server.reply(content="Third answer.", usage={"prompt_tokens": 40, "completion_tokens": 3})

    run = execute(say(chat_agent, "Third question?"))

    assert run.status == RunStatus.SUCCEEDED
    summarising, main = openai_server.chat_requests[-2:]
    assert model_messages(summarising)[0] == {"role": "system", "content": SUMMARISE_INSTRUCTIONS}
    assert "First question?" in model_messages(summarising)[1]["content"]
    assert "Second question?" not in model_messages(summarising)[1]["content"]  # the latest turn stays raw
    assert model_messages(main) == [
        {"role": "system", "content": f"{SUMMARY_INTRO}\nThe user asked a first question and got a first answer."},
        {"role": "user", "content": "Second question?"},
        {"role": "assistant", "content": "Second answer."},
        {"role": "user", "content": "Third question?"},
    ]
    thread = Thread.objects.get(external_id="t1")
    assert (thread.summary, thread.summary_through_run, thread.summary_turns) == (
        "The user asked a first question and got a first answer.", first.pk, 1)


def test_the_summary_is_traced_as_a_model_call_and_a_memory_step(two_turns, chat_agent, say, openai_server):
    openai_server.reply(content="Summary one.")
    openai_server.reply(content="Third answer.")

    run = execute(say(chat_agent, "Third question?"))

    kinds = [(step.kind, step.name) for step in run.steps.order_by("seq")]
    assert kinds[:4] == [(StepKind.CODE, "tools"), (StepKind.MEMORY, "thread.history"),
                         (StepKind.LLM, "gpt-4o-mini"), (StepKind.MEMORY, "thread.summarise")]
    assert run.steps.get(name="thread.summarise").output["summary"] == "Summary one."
    assert run.steps.filter(kind=StepKind.LLM).first().input["conversation"] == "thread.summarise"


def test_the_next_run_starts_from_the_kept_summary(two_turns, chat_agent, say, openai_server):
    openai_server.reply(content="Summary one.")
    openai_server.reply(content="Third answer.", usage={"prompt_tokens": 40, "completion_tokens": 3})
    execute(say(chat_agent, "Third question?"))
    openai_server.reply(content="Fourth answer.")

    execute(say(chat_agent, "Fourth question?"))

    messages = model_messages(openai_server.chat_requests[-1])
    assert messages[0] == {"role": "system", "content": f"{SUMMARY_INTRO}\nSummary one."}
    assert [m["content"] for m in messages[1:]] == ["Second question?", "Second answer.", "Third question?",
                                                    "Third answer.", "Fourth question?"]
    assert len(openai_server.chat_requests) == 5  # 40 reported tokens: no second summary
