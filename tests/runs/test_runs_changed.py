"""`runs_changed`, the event streams' poll (runs/follower.py): an idle stream reads the database
only when it names the stream's run, so it must name every run a stream has something to learn
from, and only those."""

import pytest
from django.utils import timezone

from runs.models import Run, Step, StepKind, StepStatus
from runs.selectors import runs_changed

pytestmark = pytest.mark.django_db


def seen_now(*runs, after: int = 0) -> dict:
    return {str(run.pk): (run.tenant_id, after, run.updated_at) for run in runs}


def add_step(run, seq: int, status: str) -> None:
    Step.objects.create(run=run, seq=seq, kind=StepKind.TOOL, name="orders.lookup", status=status,
                        started_at=timezone.now())


def test_an_untouched_run_and_a_step_still_started_are_no_change(start_run):
    run = start_run("test_sleep", {"seconds": 60})
    add_step(run, 1, StepStatus.STARTED)

    assert runs_changed(seen=seen_now(run)) == set()


def test_a_newer_row_a_settled_step_and_a_first_look_are_changes(start_run):
    updated, stepped, unseen = (start_run("test_sleep", {"seconds": 60}) for _ in range(3))
    seen = seen_now(updated, stepped, unseen)
    Run.objects.filter(pk=updated.pk).update(status="running", updated_at=timezone.now())
    add_step(stepped, 1, StepStatus.COMPLETED)
    seen[str(unseen.pk)] = (unseen.tenant_id, 0, None)  # the stream has not read the run yet

    assert runs_changed(seen=seen) == {str(updated.pk), str(stepped.pk), str(unseen.pk)}


def test_a_run_gone_is_a_change_so_that_its_stream_reads_and_ends(start_run):
    run, kept = start_run("test_sleep", {"seconds": 60}), start_run("test_sleep", {"seconds": 60})
    seen = seen_now(run, kept)
    Run.objects.filter(pk=run.pk).delete()

    assert runs_changed(seen=seen) == {str(run.pk)}

