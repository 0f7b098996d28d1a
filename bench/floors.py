"""Storage floors, the lower bounds the per-step overhead is read against.

* The peer harness's `machine_facts.py`: fsync of a 200-byte append, and a one-row INSERT +
  COMMIT into a two-column table in SQLite (WAL, synchronous=FULL) and PostgreSQL. The targets
  are stated against these ("commit floor").
* The journal floor: one INSERT of a real step row (the journal's table, its indexes, its
  foreign key, the same ~200-byte output) + COMMIT through the bare driver, no ORM, on a fresh
  copy of the project's database. What any implementation on this schema must pay per step.

    python bench/floors.py --template TEMPLATE [--ops 200] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase  # noqa: E402
from bench.env import PEERS_DIR, peers_common  # noqa: E402

C = peers_common()

COLUMNS = ("run_id, seq, parent_seq, kind, name, status, input, output, error, attempt, started_at, "
           "finished_at, model, tokens_in, tokens_out, tokens_cached, cost, price")


def child(a) -> None:
    fresh = FreshDatabase(a.template, "floor")
    try:
        from bench.env import django_setup

        django_setup(fresh.url)
        from django.db import connections

        from bench import fixtures

        w = fixtures.world()
        run = fixtures.new_run(w, fixtures.agent(w, "bench-floor", workflow="bench_steps"), {"n": 0})
        connections.close_all()
        output = json.dumps(C.step_fn(C.INIT, 0))
        now = "2025-01-01 00:00:00"
        seq = iter(range(1, 10**9))
        reps = []
        if fresh.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(fresh.name, isolation_level=None)
            conn.execute("PRAGMA synchronous=FULL")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            sql = (f"INSERT INTO runs_step ({COLUMNS}) VALUES (?, ?, NULL, 'code', 'step_fn', 'completed', NULL, ?, "
                   "NULL, 1, ?, ?, '', 0, 0, 0, '0', NULL)")

            def op():
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(sql, (run.pk.hex, next(seq), output, now, now))
                conn.execute("COMMIT")

            settings = {"journal_mode": mode, "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0]}
        else:
            import psycopg

            conn = psycopg.connect(fresh.url.replace("postgres://", "postgresql://", 1))
            sql = (f"INSERT INTO runs_step ({COLUMNS}) VALUES (%s, %s, NULL, 'code', 'step_fn', 'completed', NULL, "
                   "%s, NULL, 1, %s, %s, '', 0, 0, 0, 0, NULL)")

            def op():
                conn.execute(sql, (run.pk, next(seq), output, now, now))
                conn.commit()

            settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("fsync", "synchronous_commit")}
        for _ in range(a.reps):
            samples = []
            for _ in range(a.ops):
                t = time.perf_counter()
                op()
                samples.append((time.perf_counter() - t) * 1000.0)
            reps.append(statistics.median(samples))
        conn.close()
    finally:
        fresh.drop()
    C.emit({"journal_insert_commit_ms": {"median": statistics.median(reps), "min": min(reps), "max": max(reps),
                                         "rep_medians": reps}, "db_settings": settings})


def journal_floor(template: str, *, ops: int = 200, reps: int = 5) -> dict:
    return C.run_child([__file__, "--child", "--template", template, "--ops", str(ops), "--reps", str(reps)])


def machine_facts(python: str, pg_url: str | None) -> dict:
    """The peer harness's machine facts, run with `python` (it needs only sqlite3 and psycopg).

    Without PostgreSQL the script cannot run as a whole; its SQLite and fsync measurements are
    then taken with its own functions and settings (5 repetitions of 200 operations).
    """
    import os

    env = dict(os.environ)
    env.setdefault("BENCH_TMP", "/tmp/peers-bench")
    if pg_url:
        env["BENCH_PG_URL"] = pg_url
        argv = [python, str(PEERS_DIR / "machine_facts.py")]
    else:
        argv = [python, "-c", _WITHOUT_PG]
    proc = subprocess.run(argv, cwd=PEERS_DIR, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"machine_facts.py failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


_WITHOUT_PG = """
import sqlite3, statistics
import common as C
import machine_facts as M
res = {}
for name, fn in (("fsync_200B_append_ms", M.fsync_ms),
                 ("sqlite_commit_delete_full_ms", lambda: M.sqlite_commit_ms("delete")),
                 ("sqlite_commit_wal_full_ms", lambda: M.sqlite_commit_ms("wal"))):
    vals = [fn() for _ in range(M.REPS)]
    res[name] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "rep_medians": vals}
res["postgres_settings"] = "not measured (no PostgreSQL in this run)"
res["sqlite_version"] = sqlite3.sqlite_version
C.emit({"script": "machine_facts", "machine": C.machine(), "facts": res})
"""


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        C.emit(journal_floor(args.template, ops=args.ops, reps=args.reps))
