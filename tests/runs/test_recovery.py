"""Which leases recovery takes back: those of provably dead processes at once, expired ones, never a live one."""

import os
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker

from runs.engine import execute_run
from runs.engine.lease import CHECK_INTERVAL, MACHINE, holder_is_dead, new_worker_id
from runs.models import Run, RunStatus
from runs.recovery import resume_stranded
from runs.services import recover, runs_recover_stranded
from tests.support.workers import dead_worker_id, finished_pid, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def hold(run, owner: str, *, lease_seconds: float = 60) -> Run:
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, lease_owner=owner,
                                         lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds))
    return Run.objects.get(pk=run.pk)


def test_a_live_process_holds_its_lease():
    assert not holder_is_dead(new_worker_id())


def test_a_process_that_exited_is_dead():
    assert holder_is_dead(dead_worker_id())


def test_a_killed_process_not_yet_reaped_is_dead():
    zombie = subprocess.Popen(["true"])
    try:
        stat = wait_for(lambda: _stat_if_zombie(zombie.pid), timeout=10, interval=0.01, message="a zombie")
        assert holder_is_dead(dead_worker_id(zombie.pid, started=stat[19]))
    finally:
        zombie.wait()


def _stat_if_zombie(pid: int) -> list[str] | None:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return fields if fields[0] == "Z" else None


def test_a_pid_now_used_by_a_later_process_is_dead():
    # This process's pid, with another start time: the lease was taken by an earlier process.
    assert holder_is_dead(dead_worker_id(os.getpid(), started="1"))


def test_a_lease_from_another_machine_or_an_older_format_is_left_to_its_expiry():
    pid = finished_pid()
    assert not holder_is_dead(f"elsewhere/4026531836:{pid}:1:0123abcd")
    assert not holder_is_dead(f"{MACHINE.split('/')[0]}:{pid}:0123abcd")
    assert not holder_is_dead("")


def test_a_run_of_a_dead_worker_is_queued_again_before_its_lease_expires(start_run):
    run = hold(start_run("test_effects", {"steps": 1, "effects": "/dev/null"}), dead_worker_id())
    tasks_before = get_broker().queue_size()

    assert runs_recover_stranded() == [run.pk]

    run.refresh_from_db()
    assert (run.status, run.lease_owner, run.lease_expires_at) == (RunStatus.QUEUED, "", None)
    assert get_broker().queue_size() == tasks_before + 1
    assert runs_recover_stranded() == []  # taken back once


def test_a_run_whose_lease_expired_is_queued_again_and_a_live_one_is_left_alone(start_run):
    expired = hold(start_run("test_effects", {"steps": 1, "effects": "/dev/null"}),
                   "elsewhere/1:1:1:0123abcd", lease_seconds=-1)
    live = hold(start_run("test_effects", {"steps": 1, "effects": "/dev/null"}), new_worker_id())

    assert recover()["expired_leases"] == 1

    assert Run.objects.get(pk=expired.pk).status == RunStatus.QUEUED
    assert Run.objects.get(pk=live.pk).lease_owner == live.lease_owner


def test_a_lease_renewed_since_it_was_read_is_not_taken(start_run):
    from runs import store

    run = hold(start_run("test_effects", {"steps": 1, "effects": "/dev/null"}), "elsewhere/1:1:1:x", lease_seconds=-1)
    renewed = store.lease_renew(run_id=run.pk, owner=run.lease_owner, seconds=60)

    assert renewed and not store.run_requeue_held(run_id=run.pk, owner=run.lease_owner,
                                                  expires_at=run.lease_expires_at, now=timezone.now())
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_a_starting_worker_executes_the_stranded_runs_itself(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    run = hold(start_run("test_effects", {"steps": 2, "effects": str(effects), "pause": 0}), dead_worker_id())

    assert resume_stranded() == 1

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and effects.read_text().split() == ["0", "1"]


def test_a_code_step_longer_than_the_lease_keeps_its_run(start_run, tmp_path, settings):
    settings.RUN_LEASE_SECONDS = 0.6
    run = start_run("test_effects", {"steps": 1, "effects": str(tmp_path / "effects.txt"), "pause": 1.5})
    outcome = []

    def work():
        try:
            outcome.append(execute_run(run.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(1.0)  # in the step, past its first lease
    taken_back = runs_recover_stranded()
    worker.join(timeout=30)

    assert taken_back == [] and outcome == ["succeeded"]
    assert Run.objects.get(pk=run.pk).executions == 1
    time.sleep(2 * CHECK_INTERVAL)  # the idle heartbeat lets its connection go (the database is dropped next)
