"""W1, per-step overhead: one run of 50 sequential `ctx.step` calls of `common.step_fn`,
executed in-process by `runs.engine.execute_run` (claim with a lease, journal load, replay
machinery, one INSERT per step, the finish transaction). Each repetition also takes the commit
floor in its own process just before and after its timed runs, and the target's ratio is read
against that (per repetition, then the median).

Each repetition is a fresh process with a fresh database (a copy of the migrated template): it
does WARMUP runs, then times RUNS runs one after another. A timed run is its creation (one
INSERT of the Run row, as DBOS's workflow call inserts its status row) plus `execute_run`; the
time of `execute_run` alone is kept too.

    python bench/w1.py --template TEMPLATE [--reps 5] [--runs 30] [--warmup 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase, is_sqlite  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()
LIB = "agentops"


def db_settings() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            import sqlite3

            return {
                "journal_mode": cur.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": cur.execute("PRAGMA synchronous").fetchone()[0],  # 2 = FULL
                "sqlite_version": sqlite3.sqlite_version,
            }
        out = {}
        for key in ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes"):
            cur.execute(f"SHOW {key}")
            out[key] = cur.fetchone()[0]
        return out


def child(a) -> None:
    fresh = FreshDatabase(a.template, "w1")
    try:
        from bench.env import django_setup

        django_setup(fresh.url)
        from bench import fixtures
        from runs.engine import execute_run
        from runs.models import Run, RunStatus, Step

        w = fixtures.world()
        agent = fixtures.agent(w, "bench-w1", workflow="bench_steps")
        expect = C.expected_final(a.n)
        base = C.baseline_ms(a.n)

        def one() -> tuple[str, float]:
            run = fixtures.new_run(w, agent, {"n": a.n})
            t = time.perf_counter()
            outcome = execute_run(run.pk)
            assert outcome == "succeeded", outcome
            return str(run.pk), (time.perf_counter() - t) * 1000.0

        for _ in range(a.warmup):
            one()
        pg = fresh.kind == "postgres"
        if pg:
            C.PG_URL = fresh.url.replace("postgres://", "postgresql://", 1)
        floors = [commit_floor_ms(pg)]
        pg_before = C.pg_counters() if pg else None
        samples, exec_samples, run_ids = [], [], []
        cpu0 = time.process_time()
        for _ in range(a.runs):
            t = time.perf_counter()
            run_id, exec_ms = one()
            samples.append((time.perf_counter() - t) * 1000.0)
            exec_samples.append(exec_ms)
            run_ids.append(run_id)
        cpu_ms = (time.process_time() - cpu0) * 1000.0 / a.runs
        pg_io = C.pg_per_workflow(pg_before, C.pg_counters(), a.runs) if pg else None
        floors.append(commit_floor_ms(pg))
        finished = Run.objects.filter(pk__in=run_ids)
        assert all(r.status == RunStatus.SUCCEEDED and r.output == expect for r in finished), "wrong result"
        assert finished.count() == a.runs
        rows = Step.objects.count()
        settings = db_settings()
    finally:
        fresh.drop()
    C.emit({
        "workflow_ms": samples,
        "execute_ms": exec_samples,
        "baseline_ms_median": statistics.median(base),
        "step_rows_written": rows,
        "workflows_run": a.warmup + a.runs,
        "db_settings": settings,
        "pg_io": pg_io,
        "client_cpu_ms_per_workflow": cpu_ms,
        "commit_floor_ms": floors,
        "result_ok": True,
    })


def commit_floor_ms(pg: bool) -> float:
    """The harness's commit floor (`machine_facts.py`: a one-row INSERT + COMMIT, median of 200),
    taken here and now: the storage's speed drifts within minutes, so a floor measured in another
    section is not the floor this repetition ran against."""
    import machine_facts  # beside the harness's common.py

    return machine_facts.pg_commit_ms() if pg else machine_facts.sqlite_commit_ms("wal")


def measure(db: str, template: str, *, reps: int, runs: int, warmup: int, n: int = 50) -> dict:
    """Run the repetitions (fresh processes) and return rows in the peers' format plus details."""
    from bench.version import engine_version

    reps_out = C.run_reps(__file__, ["--template", template, "--runs", str(runs), "--warmup", str(warmup),
                                     "--n", str(n)], reps)
    wf_meds = [statistics.median(r["workflow_ms"]) for r in reps_out]
    ex_meds = [statistics.median(r["execute_ms"]) for r in reps_out]
    pooled = [x for r in reps_out for x in r["workflow_ms"]]
    base = [r["baseline_ms_median"] for r in reps_out]
    per_step = [(m - b) / n for m, b in zip(wf_meds, base)]
    per_step_exec = [(m - b) / n for m, b in zip(ex_meds, base)]
    ver = engine_version()
    variant = "execute_run in-process (one INSERT per step)"
    rows = [
        C.row(LIB, ver, db, "W1", variant, f"ms per workflow ({n} steps)", wf_meds, pooled),
        C.row(LIB, ver, db, "W1", variant, "ms per step overhead", per_step),
        C.row(LIB, ver, db, "W1", "execute_run only (run row created untimed)", "ms per step overhead", per_step_exec),
        C.row(LIB, ver, db, "W1", f"baseline: {n} plain calls", f"ms per {n} plain calls", base),
    ]
    io = [r["pg_io"] for r in reps_out if r.get("pg_io")]
    floors = [statistics.mean(r["commit_floor_ms"]) for r in reps_out]  # before and after the timed runs
    over_floor = [step / floor for step, floor in zip(per_step, floors)]
    details = {
        "step_rows_written_per_rep": [r["step_rows_written"] for r in reps_out],
        "expected_step_rows_per_rep": (warmup + runs) * n,
        "db_settings": reps_out[0]["db_settings"],
        "pg_io_per_rep": [r.get("pg_io") for r in reps_out],
        "client_cpu_ms_per_workflow_per_rep": [r["client_cpu_ms_per_workflow"] for r in reps_out],
        "client_cpu_ms_per_workflow": statistics.median(r["client_cpu_ms_per_workflow"] for r in reps_out),
        "write_txns_per_workflow": statistics.median(x["write_txns_per_workflow"] for x in io) if io else None,
        "wal_bytes_per_workflow": statistics.median(x["wal_bytes_per_workflow"] for x in io) if io else None,
        "result_ok": all(r.get("result_ok") for r in reps_out),
        "commit_floor_ms_per_rep": floors,
        "per_step_over_floor_per_rep": over_floor,
        "per_step_over_floor": statistics.median(over_floor),
    }
    return {"rows": rows, "details": details,
            "params": {"n_steps": n, "runs": runs, "warmup": warmup, "reps": reps}}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True, help="SQLite template file or PostgreSQL template URL")
    ap.add_argument("--db", default="")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        db = args.db or ("sqlite" if is_sqlite(args.template) or not args.template.startswith("postgres") else "postgres")
        C.emit(measure(db, args.template, reps=args.reps, runs=args.runs, warmup=args.warmup, n=args.n))
