"""Threads: a run given `thread` joins the tenant's Thread of that id, and starts with its history."""

import pytest

from agentops.memory.models import Thread
from runs.models import RunStatus
from tests.factories import AgentFactory

from .threads_support import execute, model_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_agent(tenant):
    return AgentFactory(tenant=tenant, slug="chat", version__provider="openai", version__model="gpt-4o-mini",
                        version__system_prompt="You are helpful.")


def test_runs_with_one_thread_string_share_one_thread(chat_agent, say, tenant):
    first, second = say(chat_agent, "Hello"), say(chat_agent, "Again")
    other = say(chat_agent, "Elsewhere", thread="t2")

    thread = Thread.objects.get(tenant=tenant, external_id="t1")
    assert first.thread_ref == second.thread_ref == thread
    assert other.thread_ref != thread
    assert first.thread == "t1"  # the client's string is kept on the run as well


def test_the_second_run_starts_with_the_first_runs_message_and_answer(chat_agent, say, openai_server):
    openai_server.reply(content="Noted, your order is 1042.")
    assert execute(say(chat_agent, "My order is 1042.")).status == RunStatus.SUCCEEDED
    openai_server.reply(content="It is 1042.")

    execute(say(chat_agent, "What is my order number?"))

    assert model_messages(openai_server.chat_requests[-1]) == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "My order is 1042."},
        {"role": "assistant", "content": "Noted, your order is 1042."},
        {"role": "user", "content": "What is my order number?"},
    ]


def test_a_run_without_a_thread_starts_without_history(chat_agent, say, openai_server):
    openai_server.reply(content="First.")
    execute(say(chat_agent, "One"))
    openai_server.reply(content="Second.")

    execute(say(chat_agent, "Two", thread=""))

    assert [m["content"] for m in model_messages(openai_server.chat_requests[-1])] == ["You are helpful.", "Two"]


def test_failed_runs_leave_no_turn_in_the_history(chat_agent, say, openai_server):
    openai_server.error(400, body={"error": {"message": "bad request"}})
    assert execute(say(chat_agent, "Lost words")).status == RunStatus.FAILED
    openai_server.reply(content="Hi.")

    execute(say(chat_agent, "Hello"))

    assert "Lost words" not in str(model_messages(openai_server.chat_requests[-1]))


def test_the_history_is_a_memory_step_replayed_from_the_journal(chat_agent, say, openai_server):
    openai_server.reply(content="A.")
    execute(say(chat_agent, "Q1"))
    openai_server.reply(content="B.")
    run = execute(say(chat_agent, "Q2"))

    step = run.steps.get(kind="memory")
    assert step.name == "thread.history"
    assert [turn["user"] for turn in step.output["turns"]] == ["Q1"]


def test_the_thread_keeps_the_prompt_size_the_model_reported(chat_agent, say, openai_server, tenant):
    openai_server.reply(content="Hi.", usage={"prompt_tokens": 321, "completion_tokens": 2})

    execute(say(chat_agent, "Hello"))

    assert Thread.objects.get(tenant=tenant, external_id="t1").last_prompt_tokens == 321


def test_the_admin_lists_the_tenants_threads_read_only(chat_agent, say, staff, other_tenant):
    say(chat_agent, "Hello", thread="visible-thread")
    Thread.objects.create(tenant=other_tenant, external_id="foreign-thread")

    page = staff.get("/admin/memory/thread/")
    thread = Thread.objects.get(external_id="visible-thread")

    assert page.status_code == 200
    assert "visible-thread" in page.content.decode() and "foreign-thread" not in page.content.decode()
    assert staff.post(f"/admin/memory/thread/{thread.pk}/change/", {"title": "changed"}).status_code == 403
