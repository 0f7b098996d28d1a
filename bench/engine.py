"""The run engine benchmark: prints the figures and writes bench/results/latest.json.

    python bench/engine.py                # full settings, SQLite and PostgreSQL (~30 min on 2 cores)
    python bench/engine.py --quick        # reduced settings (~3 min)
    python bench/engine.py --peers        # also run the DBOS / LangGraph scripts, for same-run ratios
    python bench/engine.py --db sqlite    # only the embedded default
    python bench/engine.py --only w1,w2   # only some sections: floors,queries,w1,w2,throughput,journal

PostgreSQL: --pg-url (or BENCH_DATABASE_URL / BENCH_PG_URL) names a database whose role may
create databases; without one, a private server with stock durability (fsync=on,
synchronous_commit=on) is started with bench/postgres.sh and stopped at the end. A Redis URL
(--redis-url, BENCH_REDIS_URL or REDIS_URL; the private servers include one) adds the Redis
broker variant of W2 and the throughput test on PostgreSQL.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db as dbmod  # noqa: E402
from bench import report  # noqa: E402
from bench.env import BENCH_DIR, PEERS_PY, RESULTS_DIR, peers_common  # noqa: E402

C = peers_common()

SECTIONS = ("floors", "queries", "w1", "w2", "throughput", "journal")
SETTINGS = {
    "full": {"w1": dict(reps=5, runs=30, warmup=3), "w2": dict(reps=5, resumes=20, warmup=2),
             "throughput": dict(duration=30.0, reps=3, workers=(1, 2)), "journal": (10, 100, 1000), "floor": dict(ops=200, reps=5)},
    "quick": {"w1": dict(reps=1, runs=10, warmup=2), "w2": dict(reps=1, resumes=5, warmup=1),
              "throughput": dict(duration=10.0, reps=1, workers=(2,)), "journal": (10, 100, 1000), "floor": dict(ops=100, reps=2)},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class PrivatePostgres:
    """bench/postgres.sh start/stop around the benchmark."""

    def __init__(self, with_redis: bool):
        self.dir = tempfile.mkdtemp(prefix="agentops-bench-pg-", dir="/tmp")
        args = ["bash", str(BENCH_DIR / "postgres.sh"), "start", self.dir] + ([] if with_redis else ["--no-redis"])
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"could not start PostgreSQL: {proc.stderr.strip() or proc.stdout.strip()}")
        self.env = {}
        for line in Path(self.dir, "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value

    def stop(self) -> None:
        subprocess.run(["bash", str(BENCH_DIR / "postgres.sh"), "stop", self.dir], capture_output=True, text=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_quiet(limit_s: float, threshold: float = 1.0) -> None:
    """Wait (at most limit_s) until the 1-minute load average drops below `threshold`."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f}: waiting for a quieter machine")
        time.sleep(15)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced repetitions and sizes")
    ap.add_argument("--peers", action="store_true", help="run the DBOS and LangGraph scripts in this run")
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections: " + ",".join(SECTIONS))
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("BENCH_PG_URL", ""))
    ap.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL", ""))
    ap.add_argument("--no-redis", action="store_true", help="skip the Redis broker variants")
    ap.add_argument("--throughput-duration", type=float, default=None,
                    help="seconds of submitting runs per throughput repetition (30 in full, 10 quick)")
    ap.add_argument("--wait-quiet", type=float, default=0,
                    help="first wait up to this many seconds for the load average to drop below 1")
    ap.add_argument("--out", default=str(RESULTS_DIR / "latest.json"))
    a = ap.parse_args()

    dbs = C.parse_dbs(a.db)
    only = {s for s in a.only.split(",") if s}
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    mode = "quick" if a.quick else "full"
    cfg = SETTINGS[mode]
    if a.throughput_duration:
        cfg["throughput"] = {**cfg["throughput"], "duration": a.throughput_duration}
    if a.wait_quiet:
        wait_quiet(a.wait_quiet)

    from bench.version import engine_version

    res: dict = {"meta": {"quick": a.quick, "mode": mode, "settings": cfg, "dbs": dbs, "sections": sorted(only),
                          "engine_version": engine_version(), "machine": C.machine(),
                          "loadavg_start": list(os.getloadavg()), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    private = None
    templates: dict[str, str] = {}
    pg_url, redis_url = a.pg_url, ("" if a.no_redis else a.redis_url)
    t_start = time.monotonic()
    try:
        if "postgres" in dbs and not pg_url:
            log("starting a private PostgreSQL (fsync=on, synchronous_commit=on) with bench/postgres.sh")
            private = PrivatePostgres(with_redis=not a.no_redis and shutil.which("redis-server") is not None)
            pg_url = private.env["BENCH_DATABASE_URL"]
            redis_url = redis_url or ("" if a.no_redis else private.env.get("BENCH_REDIS_URL", ""))
        res["meta"]["redis_broker"] = bool(redis_url)
        log("migrating the template databases")
        if "sqlite" in dbs:
            templates["sqlite"] = dbmod.sqlite_template()
        if "postgres" in dbs:
            templates["postgres"] = dbmod.pg_url_for(pg_url, dbmod.pg_template(pg_url))
        run_sections(a, res, cfg, dbs, only, templates, pg_url, redis_url)
    finally:
        if "sqlite" in templates:
            dbmod.remove_sqlite(templates["sqlite"])
        if "postgres" in templates:
            try:
                dbmod.pg_admin(pg_url, f"DROP DATABASE IF EXISTS {dbmod.PG_TEMPLATE} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop the template database: {exc}")
        if private is not None:
            private.stop()
    res["meta"]["loadavg_end"] = list(os.getloadavg())
    res["meta"]["elapsed_s"] = time.monotonic() - t_start
    lines, verdicts = report.render(res)
    res["targets"] = verdicts
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"(figures in {out}; took {res['meta']['elapsed_s']:.0f} s)")
    return 0


def run_sections(a, res, cfg, dbs, only, templates, pg_url, redis_url) -> None:
    """Our sections in order; with --peers, each peer workload runs right after ours, so that both
    sides of a ratio are measured minutes apart (the machine's load drifts)."""
    from bench import floors, journal, peers, queries, throughput, w1, w2

    peer_docs: dict = {}
    run_peers = False
    if a.peers:
        problem = peers.check_environment()
        if problem:
            log(f"peers: not run: {problem}")
            res["peers"] = {"source": f"not run ({problem}); stored results shown", "docs": peers.stored()}
        else:
            run_peers = True
            res["peers"] = {"source": f"this run ({'quick' if a.quick else 'full'} settings)", "docs": peer_docs}
    else:
        res["peers"] = {"source": "stored results of the peer harness (another run; use --peers for same-run ratios)",
                        "docs": peers.stored()}
    pg_for_peers = pg_url if "postgres" in dbs else None
    load = res["meta"].setdefault("loadavg_by_section", {})

    def section(name: str, fn) -> None:
        before = os.getloadavg()
        fn()
        load[name] = {"start": list(before), "end": list(os.getloadavg())}

    def peer(names) -> None:
        if run_peers:
            peer_docs.update(peers.run(pg_for_peers, quick=a.quick, dbs=dbs, names=names, log=log))

    if "floors" in only:
        def do_floors():
            res["floors"] = {"journal_floor": {}}
            python = PEERS_PY if run_peers else sys.executable
            log("floors: machine_facts.py")
            try:
                res["floors"]["machine_facts"] = floors.machine_facts(python, pg_for_peers)
            except RuntimeError as exc:
                log(f"floors: {exc}")
            for db in dbs:
                log(f"floors: journal row INSERT + COMMIT, {db}")
                res["floors"]["journal_floor"][db] = floors.journal_floor(templates[db], **cfg["floor"])
        section("floors", do_floors)
    if "queries" in only:
        def do_queries():
            res["queries"] = {}
            for db in dbs:
                log(f"statements and commits per unit of work, {db}")
                res["queries"][db] = queries.measure(templates[db])
        section("queries", do_queries)
    if "w1" in only:
        def do_w1():
            res["w1"] = {}
            for db in dbs:
                log(f"W1 {db}: {cfg['w1']}")
                res["w1"][db] = w1.measure(db, templates[db], **cfg["w1"])
        section("w1", do_w1)
        if run_peers:
            section("peers_w1", lambda: peer({"dbos_w1", "lg_w1"}))
    if "w2" in only:
        def do_w2():
            res["w2"] = {}
            for db in dbs:
                for broker in ["orm"] + (["redis"] if db == "postgres" and redis_url else []):
                    log(f"W2 {db}/{broker}: {cfg['w2']}")
                    res["w2"][f"{db}/{broker}"] = w2.measure(db, templates[db], broker=broker, redis_url=redis_url,
                                                             **cfg["w2"])
        section("w2", do_w2)
        if run_peers:
            section("peers_w2", lambda: peer({"dbos_w2", "lg_w2"}))
    if "throughput" in only:
        def do_throughput():
            res["throughput"] = {}
            for db in dbs:
                for broker in ["orm"] + (["redis"] if db == "postgres" and redis_url else []):
                    log(f"throughput {db}/{broker}: {cfg['throughput']}")
                    res["throughput"][f"{db}/{broker}"] = throughput.measure(
                        templates[db], broker=broker, redis_url=redis_url, **cfg["throughput"])
        section("throughput", do_throughput)
    if "journal" in only:
        def do_journal():
            res["journal"] = {}
            for db in dbs:
                if a.quick and db != "sqlite" and "sqlite" in dbs:
                    continue  # quick: the embedded default shows the growth
                log(f"journal size {db}: {cfg['journal']} model calls")
                res["journal"][db] = journal.measure(templates[db], cfg["journal"])
        section("journal", do_journal)
    if run_peers:
        section("peers_machine_facts", lambda: peer({"machine_facts"}))


if __name__ == "__main__":
    sys.exit(main())
