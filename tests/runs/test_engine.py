"""The journal: replay, non-determinism, limits, waits. Workflows run in-process as a worker would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs.models import RunStatus, Step, StepKind, StepStatus, WaitingReason
from runs.registry import workflow
from runs.services import run_cancel, sweep
from runs.waits import run_resume
from agentops.audit.services import Actor

pytestmark = pytest.mark.django_db

CALLS: list[str] = []


def record(name):
    CALLS.append(name)
    return {"done": name}


@workflow("test_steps_then_sleep")
def steps_then_sleep(ctx, input):
    first = ctx.step("first", record, "first")
    ctx.sleep(input.get("sleep", 3600))
    second = ctx.step("second", record, "second")
    return {"first": first, "second": second}


@workflow("test_many_steps")
def many_steps(ctx, input):
    for i in range(input["n"]):
        ctx.step(f"s{i}", record, f"s{i}")
    return {"n": input["n"]}


@workflow("test_changes_shape")
def changes_shape(ctx, input):
    if input.get("flip") and ctx.run.executions > 1:
        ctx.step("other", record, "other")
    else:
        ctx.step("first", record, "first")
    ctx.sleep(3600)
    return {}


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def test_waiting_run_resumes_without_repeating_completed_steps(start_run, advance):
    run = advance(start_run("test_steps_then_sleep"))
    assert (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.TIMER)
    assert CALLS == ["first"]

    Step.objects.filter(run=run, kind=StepKind.SLEEP).update(output={"wake_at": timezone.now().isoformat()})
    run_resume(run_id=run.pk)
    run = advance(run)

    assert run.status == RunStatus.SUCCEEDED
    assert CALLS == ["first", "second"]
    assert run.output == {"first": {"done": "first"}, "second": {"done": "second"}}
    assert list(run.steps.values_list("kind", "status")) == [
        ("code", "completed"), ("sleep", "completed"), ("code", "completed")]


def test_sweeper_wakes_due_timers_only(start_run, advance):
    due = advance(start_run("test_steps_then_sleep"))
    later = advance(start_run("test_steps_then_sleep"))
    type(due).objects.filter(pk=due.pk).update(wake_at=timezone.now() - timedelta(seconds=1))

    result = sweep()

    due.refresh_from_db(), later.refresh_from_db()
    assert result["timers"] == 1
    assert due.status == RunStatus.QUEUED and later.status == RunStatus.WAITING


def test_changed_workflow_code_fails_with_non_determinism(start_run, advance):
    run = advance(start_run("test_changes_shape", {"flip": True}))
    assert run.status == RunStatus.WAITING
    run_resume(run_id=run.pk)

    run = advance(run)

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "non_determinism"
    assert "code 'first'" in run.error["message"] and "code 'other'" in run.error["message"]


def test_max_steps_ends_the_run_before_the_extra_step(start_run, advance):
    run = advance(start_run("test_many_steps", {"n": 5}, max_steps=3))

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "max_steps_exceeded"
    assert CALLS == ["s0", "s1", "s2"]


def test_deadline_ends_the_run(start_run, advance):
    run = start_run("test_many_steps", {"n": 3}, timeout_seconds=5)
    type(run).objects.filter(pk=run.pk).update(active_seconds=6)

    run = advance(run)

    assert run.status == RunStatus.FAILED
    assert run.error["code"] == "deadline_exceeded"
    assert CALLS == []


def test_cancelling_a_waiting_run_ends_it_and_it_never_resumes(start_run, advance, operator):
    run = advance(start_run("test_steps_then_sleep"))

    run_cancel(run=run, actor=Actor.for_user(operator))
    outcome_run = advance(run)

    assert outcome_run.status == RunStatus.CANCELLED
    assert CALLS == ["first"]


def test_cancel_requested_while_running_stops_at_the_next_step(start_run, advance):
    @workflow("test_cancel_midway")
    def cancel_midway(ctx, input):
        ctx.step("a", record, "a")
        type(ctx.run).objects.filter(pk=ctx.run.pk).update(cancel_requested=True)
        ctx.lease._checked_at = 0  # check now rather than within the second
        ctx.step("b", record, "b")
        return {}

    run = advance(start_run("test_cancel_midway"))

    assert run.status == RunStatus.CANCELLED
    assert CALLS == ["a"]


def test_a_finished_run_is_not_executed_again(start_run, advance):
    run = advance(start_run("test_many_steps", {"n": 2}))
    assert run.status == RunStatus.SUCCEEDED

    from runs.engine import execute_run
    assert execute_run(run.pk) == "not_claimed"
    assert CALLS == ["s0", "s1"]


def test_a_run_leased_by_a_live_worker_is_not_claimed(start_run):
    from runs.engine.lease import run_claim

    run = start_run("test_many_steps", {"n": 1})
    assert run_claim(run_id=run.pk, owner="worker-a")

    assert not run_claim(run_id=run.pk, owner="worker-b")
    type(run).objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert run_claim(run_id=run.pk, owner="worker-b")


def test_failing_code_step_is_journaled_and_fails_the_run(start_run, advance):
    @workflow("test_raises")
    def raises(ctx, input):
        ctx.step("boom", lambda: 1 / 0)

    run = advance(start_run("test_raises"))

    step = run.steps.get()
    assert (step.status, step.error["type"]) == (StepStatus.FAILED, "ZeroDivisionError")
    assert run.status == RunStatus.FAILED and "ZeroDivisionError" in run.error["message"]
