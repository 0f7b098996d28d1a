"""Sustained throughput and worker memory: 5-step agent-loop runs of one tenant through one
`manage.py qcluster` with N worker processes, on the settings' broker.

The run is the built-in `agent_loop` workflow with the scripted model provider: the model asks
for two calls of the `bench.echo` Python tool in one response, then answers. Its journal has 5
steps: the tool list (code), model, tool, tool, model. Every step is the real path: gateway
checks, approval policy, audit event per tool call, usage counters per model call.

One repetition, on a fresh database with a fresh cluster:

1. The cluster starts and works off a few warm-up runs; none of that is measured.
2. For DURATION seconds (30 by default) this process submits runs with `run_create`, as an API
   would, keeping BACKLOG of them unfinished: the workers never wait for work and the queue
   never grows without bound. It looks every 20 ms.
3. The rate is the number of runs that finished inside that window, by their own `finished_at`,
   divided by its length. Runs submitted but unfinished when it closes are the leftovers,
   counted and reported (about BACKLOG); they are then waited for and checked like the others.

The 1-minute load average is recorded before and after each repetition and sampled during it:
the machine is shared, and a figure taken under load says so. Repetitions of different worker
counts alternate, so that drift of the machine falls on all of them alike; the figure per worker
count is the median of its repetitions. Memory (RSS and PSS of the cluster's process tree, and
the largest single process's peak RSS) is sampled every 0.5 s throughout.

    python bench/throughput.py [--db sqlite|postgres] [--workers 1,2] [--duration 30] [--reps 3]
                               [--backlog 20] [--broker orm|redis --redis-url URL]

PostgreSQL: --pg-url, or BENCH_DATABASE_URL / DATABASE_URL (as `scripts/services.sh start DIR`
writes it to DIR/env), names a database whose role may create databases: a migrated template is
made there once and cloned per repetition. `bench/postgres.sh` starts one with stock durability.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase, pg_template, pg_url_for, remove_sqlite, sqlite_template  # noqa: E402
from bench.env import peers_common  # noqa: E402
from bench.report import throughput_table  # noqa: E402

C = peers_common()
STEPS_PER_RUN = 5
EXPECTED_OUTPUT = {"answer": "done", "tool_calls": 2}
WARMUP_RUNS_PER_WORKER = 5
SUBMIT_POLL_S = 0.02


def wait_all_finished(run_ids, timeout: float, cluster, poll: float = 0.1) -> None:
    from runs.models import FINISHED_STATUSES, Run

    deadline = time.monotonic() + timeout
    ids = list(run_ids)
    while True:
        done = Run.objects.filter(pk__in=ids, status__in=FINISHED_STATUSES).count()
        if done == len(ids):
            return
        if time.monotonic() > deadline or not cluster.alive():
            raise RuntimeError(f"{done}/{len(ids)} runs finished after {timeout} s\n{cluster.log_tail()}")
        time.sleep(poll)


def check_runs(run_ids) -> None:
    from runs.models import Run, RunStatus, Step

    runs = list(Run.objects.filter(pk__in=run_ids).values("status", "output"))
    bad = [r for r in runs if r["status"] != RunStatus.SUCCEEDED or r["output"] != EXPECTED_OUTPUT]
    if bad or len(runs) != len(run_ids):
        raise RuntimeError(f"{len(bad)} of {len(runs)} runs did not succeed as expected, e.g. {bad[:1]}")
    steps = Step.objects.filter(run_id__in=run_ids).count()
    if steps != STEPS_PER_RUN * len(run_ids):
        raise RuntimeError(f"{steps} steps for {len(run_ids)} runs, expected {STEPS_PER_RUN} each")


class LoadSampler:
    """The 1-minute load average, sampled every few seconds in a thread."""

    def __init__(self, interval: float = 5.0):
        import threading

        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        return {"before": self.samples[0], "after": self.samples[-1], "max": max(self.samples),
                "median": statistics.median(self.samples)}


def stream(create, unfinished, *, duration: float, backlog: int) -> tuple[list, float]:
    """Submit runs for `duration` seconds, keeping `backlog` of them unfinished; returns their
    ids and this process's CPU seconds spent meanwhile (creating runs, counting them)."""
    submitted = []
    cpu = time.process_time()
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        missing = backlog - unfinished()
        if missing > 0:
            submitted += create(missing)
        time.sleep(SUBMIT_POLL_S)
    return submitted, time.process_time() - cpu


def child(a) -> None:
    fresh = FreshDatabase(a.template, "tp")
    cluster = sampler = load = None
    try:
        from bench.env import django_setup

        redis_url = a.redis_url if a.broker == "redis" else ""
        django_setup(fresh.url, redis_url=redis_url)
        from django.utils import timezone

        from bench import fixtures
        from bench.cluster import Cluster, MemorySampler
        from runs.models import Run, RunStatus
        from runs.services import run_create

        w = fixtures.world()
        agent = fixtures.agent(w, "bench-loop", workflow="agent_loop", tools=[fixtures.TOOL],
                               provider_config={"responses": fixtures.loop_script(2, calls_per_response=2)})

        def create(n):
            return [run_create(principal=w.requester, agent_slug=agent.slug, input={"message": "task"})[0].pk
                    for _ in range(n)]

        def unfinished():
            return Run.objects.filter(tenant=w.tenant, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)).count()

        cluster = Cluster(fresh.url, redis_url=redis_url, workers=a.workers, tag="tp")
        sampler = MemorySampler(cluster.pid).start()
        warmup = create(WARMUP_RUNS_PER_WORKER * a.workers)
        wait_all_finished(warmup, timeout=300, cluster=cluster)
        load = LoadSampler()
        opened = timezone.now()
        submitted, submit_cpu_s = stream(create, unfinished, duration=a.duration, backlog=a.backlog)
        closed = timezone.now()
        window_s = (closed - opened).total_seconds()
        in_window = Run.objects.filter(pk__in=submitted, finished_at__gte=opened, finished_at__lt=closed)
        finished = in_window.count()
        spans = [(r.finished_at - r.started_at).total_seconds() for r in in_window.only("started_at", "finished_at")]
        load_avg = load.stop()
        load = None
        wait_all_finished(submitted, timeout=300, cluster=cluster)
        check_runs(submitted)
        out = {
            "workers": a.workers, "broker": a.broker, "duration_s": window_s, "backlog": a.backlog,
            "submitted": len(submitted), "finished_in_window": finished, "leftovers": len(submitted) - finished,
            "runs_per_s": finished / window_s,
            "execute_ms_median": statistics.median(spans) * 1000.0 if spans else None,
            # The share of the workers' time spent inside execute_run; the rest is the task
            # queue's hand-offs and waiting for the writer lock or the CPU.
            "workers_busy_in_execute_run": sum(spans) / (window_s * a.workers),
            "submitter_cpu_share": submit_cpu_s / window_s,
            "load_average": load_avg,
            "memory": sampler.stop(),
        }
        sampler = None
    finally:
        for stoppable in (load, sampler):
            if stoppable is not None:
                stoppable.stop()
        if cluster is not None:
            cluster.stop()
        fresh.drop()
    C.emit(out)


def measure(template: str, *, workers=(2,), duration: float = 30.0, reps: int = 3, backlog: int = 20,
            broker: str = "orm", redis_url: str = "") -> dict:
    """Repetitions of every worker count, alternating; per worker count the median rate."""
    by_workers = {n: [] for n in workers}
    for rep in range(reps):
        for n in workers:
            args = ["--template", template, "--workers", str(n), "--duration", str(duration),
                    "--backlog", str(backlog), "--broker", broker] + (["--redis-url", redis_url] if redis_url else [])
            result = C.run_child([__file__, "--child", *args], timeout=duration + 900)
            by_workers[n].append(result)
            print(f"[throughput {broker}, {n} worker(s)] rep {rep + 1}/{reps}: {result['runs_per_s']:.1f} runs/s, "
                  f"load {result['load_average']['median']:.2f}", file=sys.stderr)
    return {
        "by_workers": {str(n): {"reps": results, "runs_per_s": statistics.median(r["runs_per_s"] for r in results)}
                       for n, results in by_workers.items()},
        "params": {"duration_s": duration, "reps": reps, "backlog": backlog, "broker": broker,
                   "steps_per_run": STEPS_PER_RUN},
    }


def _template(db: str, pg_url: str) -> tuple[str, str | None]:
    """(template, SQLite file to remove afterwards)."""
    if db == "sqlite":
        path = sqlite_template()
        return path, path
    if not pg_url:
        raise SystemExit("--db postgres needs --pg-url, BENCH_DATABASE_URL or DATABASE_URL (see scripts/services.sh)")
    return pg_url_for(pg_url, pg_template(pg_url)), None


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", ""))
    ap.add_argument("--template", default="", help="a template made by bench/engine.py (instead of a new one)")
    ap.add_argument("--workers", default="2", help="worker processes; several, comma-separated, side by side")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of submitting runs (at least 30 for a figure)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--backlog", type=int, default=20, help="unfinished runs kept while submitting")
    ap.add_argument("--broker", default="orm", choices=("orm", "redis"))
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        args.workers = int(args.workers)
        child(args)
    else:
        template, made = (args.template, None) if args.template else _template(args.db, args.pg_url)
        try:
            doc = measure(template, workers=[int(n) for n in args.workers.split(",")], duration=args.duration,
                          reps=args.reps, backlog=args.backlog, broker=args.broker, redis_url=args.redis_url)
        finally:
            if made:
                remove_sqlite(made)
        if args.json:
            C.emit(doc)
        else:
            print(throughput_table(doc, args.db))
