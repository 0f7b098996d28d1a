"""Real worker processes killed with SIGKILL in the middle of a run; a new worker finishes it."""

import time

import pytest

from runs.models import Run, RunStatus
from runs.services import sweep
from tests.support.workers import running_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def effects_seen(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_run_killed_mid_way_finishes_on_a_new_worker_with_each_step_once(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    steps = 30
    with running_worker() as first:
        run = start_run("test_effects", {"steps": steps, "effects": str(effects), "pause": 0.05}, max_steps=100)
        wait_for(lambda: len(effects_seen(effects)) >= 10, timeout=60, message=f"10 effects\n{first.output()}")
        first.kill()
    killed_at = len(effects_seen(effects))
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING

    with running_worker() as second:
        time.sleep(2.5)  # the dead worker's lease (2 s in these tests) runs out
        assert sweep()["expired_leases"] == 1
        wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED, timeout=60,
                 message=f"the run to finish\n{second.output()}")

    seen = effects_seen(effects)
    run = Run.objects.get(pk=run.pk)
    assert killed_at < steps
    assert sorted(set(seen), key=int) == [str(i) for i in range(steps)]
    # A code step is journaled when it returns: only the one running at the kill may repeat.
    repeated = [line for line in set(seen) if seen.count(line) > 1]
    assert len(repeated) <= 1
    assert run.executions == 2 and run.output == {"steps": steps}
