"""Repeatable steps (model calls, reads) are committed with the run's next write, never later than
anything that depends on them."""

import time

import pytest

from agentops.db import MAX_ROWS_PER_INSERT
from runs.models import Run, RunStatus, Step, StepKind, StepStatus
from runs.registry import workflow

pytestmark = pytest.mark.django_db


def journal(run_id) -> list[str]:
    """The names of the run's steps in the database, as another process would see them now."""
    return list(Step.objects.filter(run_id=run_id).order_by("seq").values_list("name", flat=True))


@workflow("test_model_calls_and_reads")
def model_calls_and_reads(ctx, input):
    ctx.llm([{"role": "user", "content": "one"}])
    seen = {"after first call": ctx.read_step("peek 1", journal, str(ctx.run.pk))}
    ctx.llm([{"role": "user", "content": "two"}])
    seen["after second call"] = ctx.read_step("peek 2", journal, str(ctx.run.pk))
    seen["in a code step"] = ctx.step("effect", journal, str(ctx.run.pk))
    return seen


def scripted(*answers):
    usage = {"input_tokens": 10, "output_tokens": 5}
    return {"provider": "scripted", "model": "m",
            "provider_config": {"responses": [{"content": a, "usage": usage} for a in answers]}}


def test_a_model_call_waits_for_the_next_write_and_never_past_another_model_call_or_code(start_run, advance):
    run = advance(start_run("test_model_calls_and_reads", **scripted("a", "b")))

    assert run.status == RunStatus.SUCCEEDED
    assert run.output == {
        "after first call": [],
        "after second call": ["m", "peek 1"],  # written before the second call began
        "in a code step": ["m", "peek 1", "m", "peek 2"],  # code may have effects: everything before it is durable
    }
    assert journal(run.pk) == ["m", "peek 1", "m", "peek 2", "effect"]
    assert (run.step_count, run.tokens_in, run.tokens_out) == (5, 20, 10)  # every model call counted once


@workflow("test_slow_reads")
def slow_reads(ctx, input):
    ctx.read_step("first", journal, str(ctx.run.pk))
    ctx.read_step("slow", time.sleep, input["pause"])
    return ctx.read_step("after the pause", journal, str(ctx.run.pk))


@pytest.mark.parametrize("defer_seconds, pause, seen", [
    (5, 0, []),
    (0.05, 0.1, ["first", "slow"]),  # waited longer than RUN_DEFER_SECONDS: written before the next step
    (0, 0, ["first", "slow"]),  # deferral off: every step committed on its own
])
def test_deferred_steps_are_written_within_run_defer_seconds(start_run, advance, settings, defer_seconds, pause, seen):
    settings.RUN_DEFER_SECONDS = defer_seconds

    run = advance(start_run("test_slow_reads", {"pause": pause}))

    assert run.status == RunStatus.SUCCEEDED and run.output == seen
    assert journal(run.pk) == ["first", "slow", "after the pause"]


@workflow("test_loses_its_lease")
def loses_its_lease(ctx, input):
    ctx.read_step("read", journal, str(ctx.run.pk))
    Run.objects.filter(pk=ctx.run.pk).update(lease_owner="another-worker")  # the lease expired and was taken
    return {}


def test_deferred_steps_of_a_worker_that_lost_its_lease_are_dropped(start_run, advance):
    run = advance(start_run("test_loses_its_lease"))

    assert (run.status, run.lease_owner) == (RunStatus.RUNNING, "another-worker")
    assert journal(run.pk) == []  # the worker holding the run now writes its journal


@workflow("test_read_then_wait")
def read_then_wait(ctx, input):
    value = ctx.read_step("read", lambda: input["n"])
    ctx.sleep(3600)
    return value


def test_a_run_that_parks_writes_its_deferred_steps_with_the_wait(start_run, advance):
    run = advance(start_run("test_read_then_wait", {"n": 7}))

    assert run.status == RunStatus.WAITING
    assert list(Step.objects.filter(run=run).order_by("seq").values_list("kind", "status")) == [
        (StepKind.CODE, StepStatus.COMPLETED), (StepKind.SLEEP, StepStatus.WAITING)]
    assert run.step_count == 2


@workflow("test_many_reads")
def many_reads(ctx, input):
    return sum(ctx.read_step(f"read {i}", int, i) for i in range(input["n"]))


def test_more_deferred_steps_than_one_insert_holds_are_all_written_in_order(start_run, advance, settings):
    settings.RUN_DEFER_SECONDS = 60
    n = 8 * MAX_ROWS_PER_INSERT + 7  # 17 parameters a row: more than SQLite (32,766) or PostgreSQL (65,535) take at once

    run = advance(start_run("test_many_reads", {"n": n}, max_steps=n + 1))

    assert run.status == RunStatus.SUCCEEDED and run.output == sum(range(n))
    assert list(Step.objects.filter(run=run).order_by("seq").values_list("seq", "name", "output")) == [
        (i + 1, f"read {i}", i) for i in range(n)]
