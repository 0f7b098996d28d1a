"""Crash recovery: the time from SIGKILL of the worker holding a run to the run's next step.

A run of `bench_ticks` (code steps of 20 ms, for as long as the benchmark lasts) is executed by
real clusters (`manage.py qcluster`, WORKERS=2, the settings' broker: the database's, or Redis
with a Redis URL). Each measurement kills the process group of the cluster holding the run with
SIGKILL, notes the wall-clock time, and reads from the journal when the first step after it
started (`started_at`, written by the worker that resumed the run). Three scenarios:

* restart: the killed cluster is started again at once (the kill and restart of a crash loop);
  also reported: from the moment the new cluster's worker is up ("ready for work" in its log).
* live: a second cluster on this machine is already running; it sees the holder's processes
  gone and takes the run over without waiting for the lease.
* elsewhere: as live, but the running cluster calls itself another machine (RUN_WORKER_MACHINE),
  so it cannot check the holder's processes and only the lease expiring frees the run, as for a
  worker on a machine that vanished.

    python bench/recovery.py [--kills 20] [--scenarios restart,live,elsewhere] [--pg-url URL] [--redis-url URL]

SQLite always; PostgreSQL too with --pg-url / BENCH_DATABASE_URL (and Redis as the broker with
--redis-url / BENCH_REDIS_URL). Prints the 1-minute load average beside every figure and writes
bench/results/recovery.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db as dbmod  # noqa: E402
from bench.cluster import Cluster  # noqa: E402
from bench.env import RESULTS_DIR, django_setup  # noqa: E402

PAUSE = 0.02
STEPS = 10_000_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Bench:
    def __init__(self, database_url: str, redis_url: str):
        self.database_url, self.redis_url = database_url, redis_url
        self.clusters: list[Cluster] = []

    def start_cluster(self, machine: str = "") -> datetime:
        """Start a cluster; the wall-clock time its first worker was up (logged "ready for work")."""
        os.environ["RUN_WORKER_MACHINE"] = machine  # read by bench.env.django_env
        cluster = Cluster(self.database_url, redis_url=self.redis_url, tag="recovery")
        self.clusters.append(cluster)
        deadline = time.monotonic() + 60
        while "ready for work" not in cluster.log_tail(100_000):
            if time.monotonic() > deadline or not cluster.alive():
                raise RuntimeError(f"the cluster did not start\n{cluster.log_tail()}")
            time.sleep(0.005)
        return datetime.now(timezone.utc)

    def holder(self, run_id) -> Cluster:
        """The cluster whose worker holds the run now."""
        from runs.models import Run

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owner = Run.objects.filter(pk=run_id).values_list("lease_owner", flat=True).get()
            pid = int(owner.split(":")[1]) if owner.count(":") == 3 else 0
            for cluster in self.clusters:
                try:
                    if pid and cluster.alive() and os.getpgid(pid) == cluster.pid:
                        return cluster
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        raise RuntimeError("no live cluster holds the run")

    def kill(self, cluster: Cluster) -> datetime:
        """SIGKILL the cluster's process group; the wall-clock time of the signal."""
        at = datetime.now(timezone.utc)
        os.killpg(cluster.pid, signal.SIGKILL)
        self.forget(cluster)
        return at

    def forget(self, cluster: Cluster) -> None:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.stop(timeout=5)
        self.clusters.remove(cluster)

    def stop_all(self) -> None:
        for cluster in list(self.clusters):
            self.forget(cluster)


def next_step_after(run_id, at: datetime, timeout: float = 180) -> datetime:
    """When the run's first step started after `at` (its journal row's started_at)."""
    from runs.models import Step

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = (Step.objects.filter(run_id=run_id, started_at__gt=at).order_by("started_at")
                   .values_list("started_at", flat=True).first())
        if started:
            return started
        time.sleep(0.01)
    raise RuntimeError(f"the run made no step within {timeout} s of the kill")


def steps_after(run_id, at: datetime, count: int = 3) -> None:
    from runs.models import Step

    deadline = time.monotonic() + 120
    while Step.objects.filter(run_id=run_id, started_at__gt=at).count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the run stopped making steps")
        time.sleep(0.02)


def new_run():
    from bench import fixtures
    from runs.services import run_create

    world = fixtures.world()
    fixtures.agent(world, "recovery", workflow="bench_ticks")
    run, _ = run_create(principal=world.requester, agent_slug="recovery", input={"n": STEPS, "pause": PAUSE})
    return run.pk


def measure(bench: Bench, scenario: str, kills: int) -> dict:
    from runs.models import Run, RunStatus

    run_id = new_run()
    after_kill, after_up, loads = [], [], []
    numbers = itertools.count()

    def machine() -> str:  # in "elsewhere" every cluster calls itself a machine of its own
        return f"bench-machine-{next(numbers)}" if scenario == "elsewhere" else ""

    bench.start_cluster(machine())
    if scenario != "restart":
        bench.start_cluster(machine())
    steps_after(run_id, datetime(2000, 1, 1, tzinfo=timezone.utc))
    for i in range(kills):
        holder = bench.holder(run_id)
        loads.append(os.getloadavg()[0])
        killed_at = bench.kill(holder)
        up = bench.start_cluster() if scenario == "restart" else None
        resumed = next_step_after(run_id, killed_at)
        after_kill.append((resumed - killed_at).total_seconds())
        if up is not None:
            after_up.append(max(0.0, (resumed - up).total_seconds()))
        if scenario != "restart":
            bench.start_cluster(machine())  # two clusters again for the next kill
        log(f"{scenario} kill {i + 1}/{kills}: next step {after_kill[-1]:.2f} s after the kill"
            + (f", {after_up[-1]:.2f} s after the new worker was up" if up is not None else "")
            + f" (load average {loads[-1]:.2f})")
        steps_after(run_id, resumed)
    bench.stop_all()
    # Left running, the run would be the next scenario's stranded run, executed for a whole slice
    # by a worker as it starts.
    Run.objects.filter(pk=run_id).update(status=RunStatus.CANCELLED, lease_owner="", lease_expires_at=None)
    return {"kills": kills, "after_kill_s": summary(after_kill), "after_worker_up_s": summary(after_up),
            "loadavg": summary(loads), "samples_after_kill_s": after_kill, "samples_after_up_s": after_up}


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2),
            "min": round(min(values), 2)}


def run_database(name: str, template: str, redis_url: str, scenarios: list[str], kills: int) -> dict:
    from django.conf import settings

    fresh = dbmod.FreshDatabase(template, "recovery")
    try:
        django_setup(fresh.url, redis_url=redis_url)
        bench = Bench(fresh.url, redis_url)
        out = {"lease_s": settings.RUN_LEASE_SECONDS, "interval_s": settings.RUN_RECOVERY_INTERVAL_SECONDS,
               "broker": "redis" if redis_url else "database"}
        try:
            for scenario in scenarios:
                log(f"{name}: {scenario}, {kills} kills")
                out[scenario] = measure(bench, scenario, kills)
        finally:
            bench.stop_all()
        return out
    finally:
        fresh.drop()


def report(results: dict) -> None:
    print("\n| database | broker | scenario | kills | kill → next step, median / max (s) | worker up → next step, median / max (s) | load average, median / max |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, res in results["databases"].items():
        for scenario in ("restart", "live", "elsewhere"):
            if scenario not in res:
                continue
            r = res[scenario]
            up = f"{r['after_worker_up_s']['median']} / {r['after_worker_up_s']['max']}" if r["after_worker_up_s"] else ""
            print(f"| {name} | {res['broker']} | {scenario} | {r['kills']} | {r['after_kill_s']['median']} / "
                  f"{r['after_kill_s']['max']} | {up} | {r['loadavg']['median']} / {r['loadavg']['max']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--scenarios", default="restart,live,elsewhere")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", ""))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--out", default=str(RESULTS_DIR / "recovery.json"))
    parser.add_argument("--child", choices=["SQLite", "PostgreSQL"], help=argparse.SUPPRESS)
    a = parser.parse_args()
    os.environ["BENCH_LOG_LEVEL"] = "INFO"  # the clusters log "ready for work" when a worker is up
    # A terminated benchmark still stops its clusters (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if a.child:  # one database per process: Django is set up once
        Path(a.out).write_text(json.dumps(run_child(a)))
        return
    results = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_start": list(os.getloadavg())},
               "databases": {}}
    for name in (["SQLite"] if not a.no_sqlite else []) + (["PostgreSQL"] if a.pg_url else []):
        out = Path(a.out).with_suffix(f".{name}.json")
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child", name, "--out", str(out)], check=True)
        results["databases"][name] = json.loads(out.read_text())
        out.unlink()
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    Path(a.out).write_text(json.dumps(results, indent=2))
    report(results)


def run_child(a) -> dict:
    scenarios = a.scenarios.split(",")
    if a.child == "SQLite":
        template = dbmod.sqlite_template()
        try:
            return run_database("SQLite", template, "", scenarios, a.kills)
        finally:
            dbmod.remove_sqlite(template)
    template = dbmod.pg_url_for(a.pg_url, dbmod.pg_template(a.pg_url))
    return run_database("PostgreSQL", template, a.redis_url, scenarios, a.kills)


if __name__ == "__main__":
    main()
