"""A parked timer wakes its run when it is due, through a real worker, without the sweeper."""

import pytest
from django.conf import settings
from django_q.models import Schedule

from runs.models import Run, RunStatus, Step, StepKind, WaitingReason
from tests.support.workers import running_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker cannot hold a task until a time")]


def test_a_parked_timer_wakes_its_run_when_due(start_run):
    seconds = 2.0
    Schedule.objects.all().delete()  # no sweeper, and no recovery in the worker (interval 0):
    # the timer's own task must wake the run. Sleeps over 0.2 s park the run and free the worker.
    with running_worker(RUN_INLINE_SLEEP_SECONDS="0.2", RUN_RECOVERY_INTERVAL_SECONDS="0") as worker:
        run = start_run("test_sleep", {"seconds": seconds})
        wait_for(lambda: Run.objects.get(pk=run.pk).waiting_reason == WaitingReason.TIMER, timeout=20,
                 message=f"the run to park on its timer\n{worker.output()}")
        wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED, timeout=20,
                 message=f"the timer to wake the run\n{worker.output()}")

    run.refresh_from_db()
    sleep_step = Step.objects.get(run=run, kind=StepKind.SLEEP)
    assert run.executions == 2
    assert run.output["woke_at"] >= sleep_step.started_at.timestamp() + seconds
