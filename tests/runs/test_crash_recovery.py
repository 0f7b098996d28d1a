"""Real worker processes killed with SIGKILL in the middle of a run: a worker started afterwards,
or one already running, finishes it within seconds, with no sweep."""

import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ

from agentops.audit.services import Actor
from runs.engine import execute_run
from runs.models import Run, RunStatus, Step, StepStatus, WaitingReason
from runs.services import step_resolve_in_doubt
from tests.support.tool_servers import Reply, ScriptedHTTPServer
from tests.support.workers import dead_worker_id, running_worker, wait_for
from tools.services import tool_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Generous for a loaded 2-core machine: the benchmark (bench/recovery.py) measures the real figure.
RESUMED_WITHIN = 15


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
        started = time.monotonic()
        wait_for(lambda: len(effects_seen(effects)) > killed_at, timeout=RESUMED_WITHIN,
                 message=f"the restarted worker to resume the run\n{second.output()}")
        assert time.monotonic() - started < RESUMED_WITHIN
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


def ready(worker):
    wait_for(lambda: "ready for work" in worker.output(), timeout=60, message=f"the worker to start\n{worker.output()}")


def test_a_live_worker_takes_over_the_runs_of_one_killed_beside_it(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    with running_worker() as first, running_worker() as second:
        ready(first)
        run = start_run("test_effects", {"steps": 200, "effects": str(effects), "pause": 0.05}, max_steps=300)
        wait_for(lambda: Run.objects.get(pk=run.pk).lease_owner, timeout=60, message="a worker to take the run")
        ready(second)
        # Kill whichever holds the run; the other must take it over.
        holder_pid = int(Run.objects.get(pk=run.pk).lease_owner.split(":")[1])
        holder, survivor = (first, second) if _in_group(holder_pid, first) else (second, first)
        wait_for(lambda: len(effects_seen(effects)) >= 5, timeout=60, message=f"5 effects\n{holder.output()}")
        holder.kill()
        killed_at, killed = len(effects_seen(effects)), time.monotonic()

        wait_for(lambda: len(effects_seen(effects)) > killed_at, timeout=RESUMED_WITHIN,
                 message=f"the live worker to take the run over\n{survivor.output()}")
        assert time.monotonic() - killed < RESUMED_WITHIN
        assert Run.objects.get(pk=run.pk).lease_owner.split(":")[1] != str(holder_pid)


def _in_group(pid: int, worker) -> bool:
    try:
        return os.getpgid(pid) == worker.process.pid
    except ProcessLookupError:
        return False


def test_a_live_worker_takes_over_a_run_whose_lease_ran_out_on_another_machine(start_run, tmp_path):
    effects = tmp_path / "effects.txt"
    run = start_run("test_effects", {"steps": 3, "effects": str(effects), "pause": 0})
    # Held by a worker on another machine (its process cannot be checked), whose lease runs out
    # 2 s after this worker is up.
    held = Run.objects.filter(pk=run.pk)
    held.update(status=RunStatus.RUNNING, lease_owner="elsewhere/1:1:1:0123abcd",
                lease_expires_at=timezone.now() + timedelta(minutes=1))
    with running_worker() as worker:
        ready(worker)
        held.update(lease_expires_at=timezone.now() + timedelta(seconds=2))
        started = time.monotonic()
        wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED, timeout=RESUMED_WITHIN,
                 message=f"the worker to take the run over\n{worker.output()}")
        assert time.monotonic() - started < RESUMED_WITHIN
    assert effects_seen(effects) == ["0", "1", "2"]


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="takes the stranded run's task off the database queue")
def test_a_restarted_worker_resumes_stranded_runs_before_newer_work(start_run, tmp_path):
    stranded = start_run("test_effects", {"steps": 2, "effects": str(tmp_path / "stranded"), "pause": 0})
    Run.objects.filter(pk=stranded.pk).update(status=RunStatus.RUNNING, lease_owner=dead_worker_id(),
                                              lease_expires_at=timezone.now() + timedelta(minutes=1))
    OrmQ.objects.all().delete()  # its task was taken long ago, by the worker that died
    newer = start_run("test_effects", {"steps": 2, "effects": str(tmp_path / "newer"), "pause": 0})

    with running_worker() as worker:
        wait_for(lambda: Run.objects.filter(status=RunStatus.SUCCEEDED).count() == 2, timeout=60,
                 message=f"both runs to finish\n{worker.output()}")

    def first_step(run):
        return Step.objects.filter(run=run).order_by("started_at").values_list("started_at", flat=True).first()
    assert first_step(stranded) < first_step(newer)


class Billing:
    """A payments API that applies each idempotency key once, like a real one; the first request
    it receives is held for a while, so a test can kill the worker during the call."""

    def __init__(self):
        self.applied: dict[str, dict] = {}
        self.held = False
        self.server = ScriptedHTTPServer(self.handle)

    def handle(self, request):
        key = request.headers.get("idempotency-key")
        self.applied.setdefault(key, request.json())
        delay, self.held = (0 if self.held else 3.0), True
        return Reply(200, {"refund": self.applied[key], "key": key}, delay=delay)


@pytest.fixture
def billing(allow_outbound):
    billing = Billing()
    with billing.server:
        allow_outbound(billing.server.url)
        yield billing


def refund_run(start_run, tenant, billing, *, idempotent: bool):
    tool_create(tenant=tenant, name="billing.refund", kind="http", actor=Actor.system("test"),
                description="Refund an order.", idempotent=idempotent, effect="write",
                input_schema={"type": "object", "properties": {"amount": {"type": "number"}}},
                config={"method": "POST", "url": f"{billing.server.url}/refunds"})
    return start_run("test_tool_calls", {"calls": [["billing.refund", {"amount": 30}]]}, tools=["billing.refund"])


def crash_during_the_call(run, billing):
    with running_worker() as first:
        wait_for(lambda: billing.server.requests, timeout=60, message=f"the tool call\n{first.output()}")
        first.kill()
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


def recover(run, until):
    with running_worker() as second:
        wait_for(lambda: until(Run.objects.get(pk=run.pk)), timeout=60, message=f"recovery\n{second.output()}")
    return Run.objects.get(pk=run.pk)


def test_idempotent_tool_in_flight_is_retried_with_the_same_key_and_takes_effect_once(start_run, tenant, billing):
    run = refund_run(start_run, tenant, billing, idempotent=True)
    crash_during_the_call(run, billing)

    recover(run, lambda r: r.status == RunStatus.SUCCEEDED)

    keys = [r.headers["idempotency-key"] for r in billing.server.requests]
    step = Step.objects.get(run=run, kind="tool")
    assert keys == [f"{run.pk}:1", f"{run.pk}:1"]
    assert len(billing.applied) == 1
    assert step.attempt == 2 and step.output["refund"] == {"amount": 30}


def test_non_idempotent_tool_in_flight_goes_in_doubt_and_is_not_called_again(start_run, tenant, billing, operator):
    run = refund_run(start_run, tenant, billing, idempotent=False)
    crash_during_the_call(run, billing)

    waiting = recover(run, lambda r: r.status == RunStatus.WAITING)

    step = Step.objects.get(run=run, kind="tool")
    assert waiting.waiting_reason == WaitingReason.IN_DOUBT and step.status == StepStatus.IN_DOUBT
    assert len(billing.server.requests) == 1

    step_resolve_in_doubt(run=waiting, seq=step.seq, action="mark_done", output={"refund": "confirmed by phone"},
                          actor=Actor.for_user(operator))
    assert execute_run(run.pk) == "succeeded"
    assert Run.objects.get(pk=run.pk).output == {"results": [{"refund": "confirmed by phone"}]}
    assert len(billing.server.requests) == 1
