"""Two workers racing for one run: exactly one executes it."""

import threading

import pytest
from django.db import connection

from runs.engine import execute_queued, execute_run
from runs.models import Run, RunStatus, Step

pytestmark = pytest.mark.django_db(transaction=True)


def race(work, workers: int = 2) -> list:
    """Start `work(owner)` in `workers` threads at the same moment; returns what each returned."""
    barrier = threading.Barrier(workers)
    results = []

    def worker(owner):
        try:
            barrier.wait()
            results.append(work(owner))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_workers_racing_for_one_run_execute_it_once(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    run = start_run("test_effects", {"steps": 5, "effects": str(effects), "pause": 0.01})
    outcomes = race(lambda owner: execute_run(run.pk, owner=owner))

    run = Run.objects.get(pk=run.pk)
    assert sorted(outcomes) == ["not_claimed", "succeeded"]
    assert run.status == RunStatus.SUCCEEDED and run.executions == 1
    assert effects.read_text().split() == ["0", "1", "2", "3", "4"]
    assert Step.objects.filter(run=run).count() == 5


def test_worker_that_lost_its_lease_writes_nothing_more(start_run, tmp_path):
    from runs.registry import workflow

    @workflow("test_lease_stolen")
    def lease_stolen(ctx, input):
        ctx.step("before", lambda: 1)
        Run.objects.filter(pk=ctx.run.pk).update(lease_owner="someone-else")
        ctx.lease._checked_at = 0
        ctx.step("after", lambda: 2)
        return {}

    run = start_run("test_lease_stolen")

    assert execute_run(run.pk, owner="me") == "lease_lost"
    run = Run.objects.get(pk=run.pk)
    assert list(run.steps.values_list("name", flat=True)) == ["before"]
    assert run.status == RunStatus.RUNNING and run.lease_owner == "someone-else"


def test_workers_working_off_the_queue_execute_each_queued_run_once(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    runs = [start_run("test_effects", {"steps": 2, "effects": str(effects), "pause": 0.005, "tag": f"r{i}"})
            for i in range(6)]
    waiting = start_run("test_effects", {"steps": 1, "effects": str(effects)})
    Run.objects.filter(pk=waiting.pk).update(status=RunStatus.WAITING)
    executed = race(lambda owner: execute_queued(budget_seconds=60, owner=owner))

    assert sum(executed) == 6
    assert all(r.status == RunStatus.SUCCEEDED and r.executions == 1
               for r in Run.objects.filter(pk__in=[r.pk for r in runs]))
    assert Run.objects.get(pk=waiting.pk).status == RunStatus.WAITING
    lines = effects.read_text().split()
    assert sorted(lines) == sorted(f"r{i}:{s}" for i in range(6) for s in range(2))  # each step once


def test_a_run_task_goes_on_with_the_queue_and_a_later_task_finds_its_run_done(start_run, settings, tmp_path):
    from runs.tasks import execute_run as run_task

    def queued_run():
        return start_run("test_effects", {"steps": 1, "effects": str(tmp_path / "effects.txt"), "pause": 0})

    settings.RUN_DRAIN_SECONDS = 60
    first, second, third = queued_run(), queued_run(), queued_run()

    assert run_task(str(second.pk)) == "succeeded"
    assert {r.status for r in Run.objects.filter(pk__in=[first.pk, second.pk, third.pk])} == {RunStatus.SUCCEEDED}
    assert run_task(str(first.pk)) == "not_claimed"

    settings.RUN_DRAIN_SECONDS = 0
    fourth, fifth = queued_run(), queued_run()
    run_task(str(fifth.pk))
    assert Run.objects.get(pk=fourth.pk).status == RunStatus.QUEUED


def test_the_queue_is_worked_off_oldest_first(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    for tag in ("a", "b", "c"):
        start_run("test_effects", {"steps": 1, "effects": str(effects), "pause": 0, "tag": tag})

    assert execute_queued(budget_seconds=60) == 3
    assert effects.read_text().split() == ["a:0", "b:0", "c:0"]
