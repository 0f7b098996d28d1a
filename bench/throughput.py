"""Throughput and worker memory: 5-step agent-loop runs through one `manage.py qcluster` with
WORKERS=2 (two worker processes), on the settings' broker.

The run is the built-in `agent_loop` workflow with the scripted model provider: the model asks
for two calls of the `bench.echo` Python tool in one response, then answers. Its journal has 5
steps: the tool list (code), model, tool, tool, model. Every step is the real path: gateway
checks, approval policy, audit event per tool call, usage counters per model call.

Two measurements, one fresh database, one cluster:

* backlog: N runs are created with `run_create` (each enqueues its task) before the cluster
  starts; throughput = N / (last run's finished_at - first run's started_at), read from the
  database, so the cluster's start-up is not counted. This process looks only every 0.25 s
  meanwhile, so as not to take the workers' CPU.
* streaming: the cluster is up and idle; this process creates N runs with `run_create` as fast
  as it can (as an API would) and the clock runs from the first create until this process sees
  the last run finished. The creating process competes with the workers for the 2 cores.

Memory (RSS and PSS of the cluster's process tree, and the largest single process's peak RSS)
is sampled every 0.5 s throughout (each process's own peak RSS is the kernel's VmHWM).

    python bench/throughput.py --template TEMPLATE [--runs 400] [--broker orm|redis --redis-url URL]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()
STEPS_PER_RUN = 5
EXPECTED_OUTPUT = {"answer": "done", "tool_calls": 2}


def wait_all_finished(run_ids, timeout: float, cluster, poll: float = 0.02) -> float:
    """perf_counter() when this process first sees every run finished."""
    from runs.models import FINISHED_STATUSES, Run

    deadline = time.monotonic() + timeout
    ids = list(run_ids)
    while True:
        done = Run.objects.filter(pk__in=ids, status__in=FINISHED_STATUSES).count()
        if done == len(ids):
            return time.perf_counter()
        if time.monotonic() > deadline or not cluster.alive():
            raise RuntimeError(f"{done}/{len(ids)} runs finished after {timeout} s\n{cluster.log_tail()}")
        time.sleep(poll)


def check_runs(run_ids) -> dict:
    from runs.models import Run, RunStatus, Step

    runs = list(Run.objects.filter(pk__in=run_ids).values("status", "output", "executions", "error"))
    bad = [r for r in runs if r["status"] != RunStatus.SUCCEEDED or r["output"] != EXPECTED_OUTPUT]
    if bad:
        raise RuntimeError(f"{len(bad)} runs did not succeed as expected, e.g. {bad[0]}")
    steps = Step.objects.filter(run_id__in=run_ids).count()
    if steps != STEPS_PER_RUN * len(run_ids):
        raise RuntimeError(f"{steps} steps for {len(run_ids)} runs, expected {STEPS_PER_RUN} each")
    # How long a worker spent inside execute_run per run (claim to recorded end, worker clock).
    spans = sorted((r.finished_at - r.started_at).total_seconds() * 1000.0
                   for r in Run.objects.filter(pk__in=run_ids).only("started_at", "finished_at"))
    return {"runs": len(runs), "steps": steps, "max_executions_per_run": max(r["executions"] for r in runs),
            "execute_ms_median": spans[len(spans) // 2], "execute_ms_sum_s": sum(spans) / 1000.0}


def child(a) -> None:
    fresh = FreshDatabase(a.template, "tp")
    cluster = sampler = None
    try:
        from bench.env import django_setup

        redis_url = a.redis_url if a.broker == "redis" else ""
        django_setup(fresh.url, redis_url=redis_url)
        from django.db.models import Max, Min

        from bench import fixtures
        from bench.cluster import Cluster, MemorySampler
        from runs.models import Run
        from runs.services import run_create

        w = fixtures.world()
        agent = fixtures.agent(w, "bench-loop", workflow="agent_loop", tools=[fixtures.TOOL],
                               provider_config={"responses": fixtures.loop_script(2, calls_per_response=2)})

        def create(n):
            return [run_create(principal=w.requester, agent_slug=agent.slug, input={"message": f"task {i}"})[0].pk
                    for i in range(n)]

        out = {}
        # -- backlog ---------------------------------------------------------------------------
        t = time.perf_counter()
        backlog = create(a.runs)
        out["backlog_create_s"] = time.perf_counter() - t
        t_start = time.perf_counter()
        cluster = Cluster(fresh.url, redis_url=redis_url, workers=a.workers, tag="tp")
        sampler = MemorySampler(cluster.pid).start()
        # The rate comes from the runs' own timestamps; polling only decides when we look, and
        # polling every 20 ms (a 400-id query each time) took CPU from the workers measured.
        t_done = wait_all_finished(backlog, timeout=600, cluster=cluster, poll=0.25)
        span = Run.objects.filter(pk__in=backlog).aggregate(first=Min("started_at"), last=Max("finished_at"))
        drain_s = (span["last"] - span["first"]).total_seconds()
        out["backlog"] = {"runs": a.runs, "drain_s": drain_s, "runs_per_s": a.runs / drain_s,
                          "wall_incl_cluster_start_s": t_done - t_start, **check_runs(backlog)}
        # The share of the workers' time spent inside execute_run; the rest is the task queue's
        # hand-offs, connection set-up per task, and waiting.
        out["backlog"]["workers_busy_in_execute_run"] = out["backlog"]["execute_ms_sum_s"] / (drain_s * a.workers)
        # -- streaming (the cluster is idle again) ---------------------------------------------
        time.sleep(1.0)
        t0 = time.perf_counter()
        stream = create(a.runs)
        t_created = time.perf_counter()
        t1 = wait_all_finished(stream, timeout=600, cluster=cluster)
        out["streaming"] = {"runs": a.runs, "wall_s": t1 - t0, "runs_per_s": a.runs / (t1 - t0),
                            "create_s": t_created - t0, **check_runs(stream)}
        out["memory"] = sampler.stop()
        sampler = None
        out["workers"] = a.workers
        out["broker"] = a.broker
    finally:
        if sampler is not None:
            sampler.stop()
        if cluster is not None:
            cluster.stop()
        fresh.drop()
    C.emit(out)


def measure(template: str, *, runs: int, broker: str = "orm", redis_url: str = "", workers: int = 2,
            reps: int = 1) -> dict:
    args = ["--template", template, "--runs", str(runs), "--broker", broker, "--workers", str(workers)]
    if redis_url:
        args += ["--redis-url", redis_url]
    return {"reps": C.run_reps(__file__, args, reps), "params": {"runs": runs, "workers": workers,
                                                                   "steps_per_run": STEPS_PER_RUN}}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--broker", default="orm", choices=("orm", "redis"))
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        C.emit(measure(args.template, runs=args.runs, broker=args.broker, redis_url=args.redis_url,
                       workers=args.workers, reps=args.reps))
