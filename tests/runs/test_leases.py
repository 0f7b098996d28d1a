"""Two workers racing for one run: exactly one executes it."""

import threading

import pytest
from django.db import connection

from runs.engine import execute_run
from runs.models import Run, RunStatus, Step

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_racing_for_one_run_execute_it_once(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    run = start_run("test_effects", {"steps": 5, "effects": str(effects), "pause": 0.01})
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(name):
        try:
            barrier.wait()
            outcomes.append(execute_run(run.pk, owner=name))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

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
