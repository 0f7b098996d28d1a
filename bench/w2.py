"""W2, resume latency: a run does 20 steps, waits for a human decision (`ctx.approval`), then
does 1 more step. It is executed by a real, idle worker process (`manage.py qcluster`).

Per sample: the run is started (`run_create`) and the worker takes it to the approval; once it
is parked (plus SETTLE_S, jittered by up to one broker poll period so decisions do not
phase-lock to the poller) the clock starts just before `approval_decide` (which records the
decision, re-queues the run and queues its task in one transaction; Redis: the task after it) and stops when this
process sees the run `succeeded` in the database (polled every POLL_S). The worker meanwhile
picks the task up, claims the run, loads the journal, replays the 20 steps and the approval step
(the decision was delivered to it), runs the last step and records the end.

Each repetition is a fresh process with a fresh database and its own cluster.

    python bench/w2.py --template TEMPLATE [--broker orm|redis --redis-url URL]
                       [--reps 5] [--resumes 20] [--warmup 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()
LIB = "agentops"
SETTLE_S = 0.3
POLL_S = 0.001
STEPS_BEFORE = 20


def wait_status(run_id, statuses, timeout: float, poll: float = POLL_S):
    from runs.models import Run

    deadline = time.monotonic() + timeout
    while True:
        status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status in statuses:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} is {status}, not {statuses}, after {timeout} s")
        time.sleep(poll)


def child(a) -> None:
    fresh = FreshDatabase(a.template, "w2")
    cluster = None
    try:
        from bench.env import django_setup

        django_setup(fresh.url, redis_url=a.redis_url if a.broker == "redis" else "")
        from django.conf import settings

        from approvals.models import ApprovalRequest
        from approvals.services import approval_decide
        from bench import fixtures
        from bench.cluster import Cluster
        from runs.models import Run, RunStatus, Step, StepKind
        from runs.services import run_create

        w = fixtures.world()
        agent = fixtures.agent(w, "bench-w2", workflow="bench_resume")
        expect = C.expected_final(STEPS_BEFORE + 1)
        broker_poll = float(settings.Q_CLUSTER.get("poll", 0.2)) if a.broker == "orm" else 0.0
        rng = random.Random(1234 + a.rep_seed)
        cluster = Cluster(fresh.url, redis_url=a.redis_url if a.broker == "redis" else "", tag="w2")
        samples, decide_ms, pickup_ms, finish_ms = [], [], [], []
        for k in range(a.warmup + a.resumes):
            run, _ = run_create(principal=w.requester, agent_slug=agent.slug, input={})
            try:  # the first run also waits for the cluster to start
                wait_status(run.pk, {RunStatus.WAITING}, timeout=120 if k == 0 else 30)
            except TimeoutError:
                raise RuntimeError(f"the worker did not park the run\n{cluster.log_tail()}") from None
            request = ApprovalRequest.objects.get(run_id=run.pk)
            time.sleep(SETTLE_S + rng.uniform(0.0, broker_poll))
            wall0 = time.time()
            t0 = time.perf_counter()
            approval_decide(request_id=request.pk, user=w.approver.user, verdict="approve",
                            seen_hash=request.current_hash, principal=w.approver)
            t_decided = time.perf_counter()
            wall_decided = time.time()
            status = wait_status(run.pk, {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}, timeout=30)
            t1 = time.perf_counter()
            finished = Run.objects.get(pk=run.pk)
            if status != RunStatus.SUCCEEDED or finished.output != expect:
                raise RuntimeError(f"run {run.pk} ended {status} with {finished.output} / {finished.error}")
            if k >= a.warmup:
                samples.append((t1 - t0) * 1000.0)
                decide_ms.append((t_decided - t0) * 1000.0)
                # When the worker had replayed the journal, the decision delivered to the approval
                # step included (the next step's start), and when it recorded the end, from the
                # worker's clock (same machine).
                approval = Step.objects.get(run_id=run.pk, kind=StepKind.APPROVAL)
                resumed = Step.objects.filter(run_id=run.pk, seq=approval.seq + 1).get().started_at
                pickup_ms.append((resumed.timestamp() - wall_decided) * 1000.0)
                finish_ms.append((finished.finished_at - resumed).total_seconds() * 1000.0)
        executions = list(Run.objects.values_list("executions", flat=True))
    finally:
        if cluster is not None:
            cluster.stop()
        fresh.drop()
    C.emit({"resume_ms": samples, "decide_ms": decide_ms, "decided_to_worker_read_ms": pickup_ms,
            "worker_read_to_finished_ms": finish_ms,
            "broker_poll_s": broker_poll, "executions_per_run": sorted(set(executions)), "result_ok": True})


def measure(db: str, template: str, *, broker: str = "orm", redis_url: str = "", reps: int, resumes: int,
            warmup: int) -> dict:
    from bench.version import engine_version

    args = ["--template", template, "--broker", broker, "--resumes", str(resumes), "--warmup", str(warmup)]
    if redis_url:
        args += ["--redis-url", redis_url]
    reps_out = C.run_reps(__file__, args, reps, vary_seed=True)
    meds = [statistics.median(r["resume_ms"]) for r in reps_out]
    pooled = [x for r in reps_out for x in r["resume_ms"]]
    variant = ("ORM broker (poll 0.02 s)" if broker == "orm" else "Redis broker") + ", 1 idle qcluster, WORKERS=2"
    ver = engine_version()
    rows = [C.row(LIB, ver, db, "W2", variant, "ms decision->completion", meds, pooled)]
    pooled_decide = [x for r in reps_out for x in r["decide_ms"]]
    pooled_pickup = [x for r in reps_out for x in r["decided_to_worker_read_ms"]]
    pooled_finish = [x for r in reps_out for x in r["worker_read_to_finished_ms"]]
    details = {
        "broker": broker,
        "decide_call_ms_median": statistics.median(pooled_decide),
        # decide call | committed -> worker has claimed, replayed 20 steps and read the decision |
        # -> worker recorded the end (1 step + finish) | the rest: commit, this process's poll
        "decided_to_worker_read_ms_median": statistics.median(pooled_pickup),
        "worker_read_to_finished_ms_median": statistics.median(pooled_finish),
        "executions_per_run": sorted({e for r in reps_out for e in r["executions_per_run"]}),
        "result_ok": all(r.get("result_ok") for r in reps_out),
    }
    return {"rows": rows, "details": details,
            "params": {"steps_before": STEPS_BEFORE, "steps_after": 1, "resumes": resumes, "warmup": warmup,
                       "reps": reps, "settle_s": SETTLE_S, "completion_poll_s": POLL_S}}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--db", default="")
    ap.add_argument("--broker", default="orm", choices=("orm", "redis"))
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--resumes", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rep-seed", type=int, default=0)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        db = args.db or ("postgres" if args.template.startswith("postgres") else "sqlite")
        C.emit(measure(db, args.template, broker=args.broker, redis_url=args.redis_url, reps=args.reps,
                       resumes=args.resumes, warmup=args.warmup))
