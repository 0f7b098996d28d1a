"""Running the DBOS and LangGraph scripts of the peer harness in the same benchmark run, so that
ratios compare figures taken on the same machine at the same time.

The scripts run with the peer environment's interpreter (BENCH_PEERS_PY, default
/tmp/peers-venv/bin/python, set up as the harness's README says) against the same PostgreSQL
(BENCH_PG_URL). Their JSON goes to bench/results/peers/, their stderr next to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.env import PEERS_DIR, PEERS_PY, RESULTS_DIR

FULL = {"w1": ["--reps", "5", "--runs", "30", "--warmup", "3"],
        "w2": ["--reps", "5", "--resumes", "20", "--warmup", "2"]}
QUICK = {"w1": ["--reps", "1", "--runs", "5", "--warmup", "1"],
         "w2": ["--reps", "1", "--resumes", "3", "--warmup", "1"]}


def scripts(dbs: list[str], quick: bool) -> list[tuple[str, list[str]]]:
    s = QUICK if quick else FULL
    db = ["--db", ",".join(dbs)]
    lg_w1_dur = "async,sync" if quick else "async,sync,exit"
    return [
        ("machine_facts", []),
        ("dbos_w1", db + s["w1"]),
        ("lg_w1", db + ["--durability", lg_w1_dur] + s["w1"] + (["--no-engine-baseline"] if quick else [])),
        ("dbos_w2", db + ["--sqlite-poll", "default,0.01"] + s["w2"]),
        ("lg_w2", db + ["--durability", "async,sync"] + s["w2"]),
    ]


def check_environment() -> str | None:
    """Why the peers cannot run here, or None."""
    if not (PEERS_DIR / "common.py").is_file():
        return f"peer harness not found at {PEERS_DIR}"
    if not os.access(PEERS_PY, os.X_OK):
        return f"{PEERS_PY} not found: set up the peer environment as {PEERS_DIR}/README.md says"
    probe = subprocess.run([PEERS_PY, "-c", "import dbos, langgraph, langgraph.checkpoint.sqlite, "
                                            "langgraph.checkpoint.postgres, psycopg"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"the peer environment lacks a package: {probe.stderr.strip().splitlines()[-1]}"
    return None


def run(pg_url: str | None, *, quick: bool, dbs: list[str], names=None, log=print) -> dict:
    """Run the peer scripts (all, or those in `names`); returns {script name: its JSON document
    (or {"error": ...})}."""
    out_dir = RESULTS_DIR / "peers"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if pg_url:
        env["BENCH_PG_URL"] = pg_url
    env.setdefault("BENCH_TMP", "/tmp/peers-bench")
    for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        env.pop(key, None)
    docs = {}
    for name, args in scripts(dbs, quick):
        if names is not None and name not in names:
            continue
        log(f"peers: {name} {' '.join(args)}")
        t = time.monotonic()
        with open(out_dir / f"{name}.stderr.log", "w") as err:
            proc = subprocess.run([PEERS_PY, str(PEERS_DIR / f"{name}.py"), *args], cwd=PEERS_DIR, env=env,
                                  stdout=subprocess.PIPE, stderr=err, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if proc.returncode != 0 or not lines:
            docs[name] = {"error": f"exit {proc.returncode}; see {out_dir / (name + '.stderr.log')}"}
            log(f"peers: {name} FAILED ({docs[name]['error']})")
            continue
        docs[name] = json.loads(lines[-1])
        (out_dir / f"{name}.json").write_text(lines[-1] + "\n")
        log(f"peers: {name} done in {time.monotonic() - t:.0f} s")
    return docs


def stored() -> dict:
    """The peer harness's own stored results (a different run: for reference only)."""
    docs = {}
    for path in sorted((PEERS_DIR / "results").glob("*.json")):
        try:
            docs[path.stem] = json.loads(path.read_text())
        except ValueError:
            print(f"skipping {path}: not JSON", file=sys.stderr)
    return docs
