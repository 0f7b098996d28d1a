"""Never two runs of one thread at once: the thread's policy queues, rejects or interrupts."""

import pytest

from agentops.audit.services import Actor
from agentops.memory.models import Thread, ThreadConcurrency
from runs.errors import RunError
from runs.models import Run, RunStatus, WaitingReason
from runs.services import recover, run_cancel, run_retry
from tests.factories import AgentFactory
from tests.support.workers import running_worker, wait_for

from .threads_support import execute, model_messages


@pytest.fixture
def chat_agent(tenant):
    return AgentFactory(tenant=tenant, slug="chat", version__provider="openai", version__model="gpt-4o-mini")


def policy(tenant, concurrency, external_id="t1"):
    return Thread.objects.create(tenant=tenant, external_id=external_id, concurrency=concurrency)


def waits_its_turn(run) -> bool:
    run.refresh_from_db()
    return (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.THREAD)


@pytest.mark.django_db
def test_queue_a_second_run_waits_until_the_first_ends_then_starts(chat_agent, say, openai_server):
    first, second = say(chat_agent, "One"), say(chat_agent, "Two")
    assert first.status == RunStatus.QUEUED and waits_its_turn(second)
    openai_server.reply(content="Answer one.")

    execute(first)

    second.refresh_from_db()
    assert second.status == RunStatus.QUEUED
    openai_server.reply(content="Answer two.")
    assert execute(second).status == RunStatus.SUCCEEDED
    assert [m["content"] for m in model_messages(openai_server.chat_requests[-1])] == ["One", "Answer one.", "Two"]


@pytest.mark.django_db
def test_queue_runs_start_in_the_order_they_came(chat_agent, say):
    first, second, third = say(chat_agent, "One"), say(chat_agent, "Two"), say(chat_agent, "Three")

    run_cancel(run=first, actor=Actor.system("test"))

    second.refresh_from_db()
    assert second.status == RunStatus.QUEUED and waits_its_turn(third)


@pytest.mark.django_db
def test_a_failed_run_retried_while_its_thread_is_busy_waits_its_turn(chat_agent, say, openai_server):
    first = say(chat_agent, "One")
    openai_server.error(400)  # not retried: the run fails
    assert execute(first).status == RunStatus.FAILED
    second = say(chat_agent, "Two")
    assert second.status == RunStatus.QUEUED

    retried = run_retry(run=first, actor=Actor.system("test"))

    assert waits_its_turn(retried)
    openai_server.reply(content="Answer two.")
    execute(second)
    retried.refresh_from_db()
    assert retried.status == RunStatus.QUEUED


@pytest.mark.django_db
def test_other_threads_are_not_held_up(chat_agent, say):
    say(chat_agent, "One")

    assert say(chat_agent, "Elsewhere", thread="t2").status == RunStatus.QUEUED


@pytest.mark.django_db
def test_reject_refuses_a_second_run_with_409_thread_busy(chat_agent, tenant, api, say):
    policy(tenant, ThreadConcurrency.REJECT)
    first = say(chat_agent, "One")

    response = api.post("/api/v1/runs/", {"agent": "chat", "message": "Two", "thread": "t1"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "thread_busy"
    assert str(first.pk) in response.json()["error"]["message"]
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_reject_accepts_the_next_run_once_the_thread_is_free(chat_agent, tenant, say, openai_server):
    policy(tenant, ThreadConcurrency.REJECT)
    openai_server.reply(content="Done.")
    execute(say(chat_agent, "One"))

    assert say(chat_agent, "Two").status == RunStatus.QUEUED


@pytest.mark.django_db
def test_interrupt_cancels_a_queued_run_and_starts_the_new_one(chat_agent, tenant, say):
    policy(tenant, ThreadConcurrency.INTERRUPT)
    first, second = say(chat_agent, "One"), say(chat_agent, "Two")

    third = say(chat_agent, "Three")

    assert Run.objects.get(pk=first.pk).status == RunStatus.CANCELLED
    assert Run.objects.get(pk=second.pk).status == RunStatus.CANCELLED
    assert third.status == RunStatus.QUEUED


@pytest.mark.django_db
def test_a_thread_busy_error_leaves_no_thread_lock_behind(chat_agent, tenant, say, principal_of, operator):
    policy(tenant, ThreadConcurrency.REJECT)
    say(chat_agent, "One")

    with pytest.raises(RunError, match="in progress"):
        say(chat_agent, "Two")
    assert say(chat_agent, "Elsewhere", thread="t2").status == RunStatus.QUEUED


@pytest.mark.django_db
def test_recovery_wakes_a_run_left_waiting_behind_a_lost_hand_off(chat_agent, say):
    first, second = say(chat_agent, "One"), say(chat_agent, "Two")
    # The first run's end committed without its hand-off (as if written by an older release).
    Run.objects.filter(pk=first.pk).update(status=RunStatus.SUCCEEDED)

    result = recover()

    second.refresh_from_db()
    assert result["thread_turns"] == 1 and second.status == RunStatus.QUEUED


@pytest.mark.django_db
def test_recovery_leaves_a_run_waiting_while_its_thread_is_busy(chat_agent, say):
    say(chat_agent, "One")
    second = say(chat_agent, "Two")

    assert recover()["thread_turns"] == 0
    assert waits_its_turn(second)


# With real workers --------------------------------------------------------------------------------


def worker_env(server):
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-local-test", "WORKERS": "2"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_queued_runs_of_a_thread_never_overlap_on_real_workers(chat_agent, say, openai_server):
    openai_server.reply(content="Answer one.", delay=1.5)
    openai_server.reply(content="Answer two.")
    with running_worker(**worker_env(openai_server)) as worker:
        first, second = say(chat_agent, "One"), say(chat_agent, "Two")
        wait_for(lambda: Run.objects.filter(pk=second.pk, status=RunStatus.SUCCEEDED).exists(), timeout=60,
                 message=f"both runs to end\n{worker.output()}")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED
    assert second.started_at >= first.finished_at
    assert [m["content"] for m in model_messages(openai_server.chat_requests[-1])] == ["One", "Answer one.", "Two"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_interrupt_stops_the_running_run_and_starts_the_new_one_on_real_workers(chat_agent, tenant, say,
                                                                                openai_server):
    policy(tenant, ThreadConcurrency.INTERRUPT)
    openai_server.reply(content=None, tool_calls=[{"name": "nothing", "arguments": {}}], delay=2)
    openai_server.reply(content="Answer two.")
    with running_worker(**worker_env(openai_server)) as worker:
        first = say(chat_agent, "One")
        wait_for(lambda: Run.objects.filter(pk=first.pk, status=RunStatus.RUNNING).exists(), timeout=30,
                 message=f"the first run to start\n{worker.output()}")
        second = say(chat_agent, "Two")
        assert waits_its_turn(second)  # the first stops at its next step boundary
        wait_for(lambda: Run.objects.filter(pk=second.pk, status=RunStatus.SUCCEEDED).exists(), timeout=60,
                 message=f"the second run to end\n{worker.output()}")

    first.refresh_from_db()
    assert first.status == RunStatus.CANCELLED
    assert first.cancel_requested
