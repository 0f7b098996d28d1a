"""An idle worker's cost and its reaction time: the CPU a cluster with nothing to do uses, and how
long a task queued while it idles waits before a worker starts it.

A real cluster (`manage.py qcluster`, WORKERS=2, the database broker on SQLite) is started on a
fresh database and left alone for a warm-up; then the CPU time of its whole process tree
(utime + stime from /proc, every process the cluster started) is read over `--seconds`. Then, with
the cluster idle again, tasks are queued one at a time, each at a random moment of the poll
cycle, and the time from the commit that queues one to the moment the worker runs it (the task
creates a directory) is measured: `--pickups` a second or two apart (the cluster polls at its fast
rate), and `--quiet-pickups` after more than QUEUE_IDLE_AFTER_SECONDS of quiet (the idle rate).

    python bench/idle.py [--seconds 30] [--pickups 20] [--quiet-pickups 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db as dbmod  # noqa: E402
from bench.cluster import Cluster, process_tree  # noqa: E402
from bench.env import TMP, django_setup  # noqa: E402

WARM_UP_SECONDS = 10


def tree_cpu_seconds(root: int) -> float:
    ticks = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(cluster: Cluster, seconds: float) -> float:
    before, started = tree_cpu_seconds(cluster.pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (tree_cpu_seconds(cluster.pid) - before) / (time.monotonic() - started)


def pickup_seconds(marker: Path) -> float:
    from agentops.taskqueue import enqueue

    queued = time.monotonic()
    enqueue("os.mkdir", str(marker))
    while not marker.exists():
        if time.monotonic() - queued > 30:
            raise RuntimeError("the worker did not run the task within 30 s")
        time.sleep(0.001)
    return time.monotonic() - queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pickups", type=int, default=20)
    parser.add_argument("--quiet-pickups", type=int, default=5)
    args = parser.parse_args()

    TMP.mkdir(parents=True, exist_ok=True)
    path = TMP / f"idle-{os.getpid()}.sqlite3"
    url = dbmod.sqlite_url(path)
    dbmod.migrate(url)
    django_setup(url)
    from django.conf import settings

    cluster = Cluster(url, tag="idle")
    try:
        time.sleep(WARM_UP_SECONDS)
        if not cluster.alive():
            raise SystemExit(f"the cluster exited:\n{cluster.log_tail()}")
        cpu = idle_cpu_percent(cluster, args.seconds)
        quiet = settings.QUEUE_IDLE_AFTER_SECONDS
        busy_waits = pickups(args.pickups, lambda: random.uniform(1.0, 3.0))
        quiet_waits = pickups(args.quiet_pickups, lambda: quiet + random.uniform(0.5, 1.5))
    finally:
        cluster.stop()
        dbmod.remove_sqlite(str(path))
    print(f"idle cluster (WORKERS=2, SQLite): {cpu:.2f}% of a core over {args.seconds:.0f} s "
          f"(load {os.getloadavg()[0]:.2f})")
    print(f"pick-up, tasks 1-3 s apart: {summary(busy_waits)}")
    print(f"pick-up, after {quiet:.0f} s of quiet: {summary(quiet_waits)}")


def pickups(count: int, gap) -> list[float]:
    waits = []
    for n in range(count):
        time.sleep(gap())  # at any point of a poll cycle
        marker = TMP / f"idle-{os.getpid()}-{n}"
        waits.append(pickup_seconds(marker))
        os.rmdir(marker)
    return sorted(waits)


def summary(waits: list[float]) -> str:
    if not waits:
        return "not measured"
    return f"median {1000 * statistics.median(waits):.0f} ms, max {1000 * waits[-1]:.0f} ms over {len(waits)} tasks"


if __name__ == "__main__":
    main()
