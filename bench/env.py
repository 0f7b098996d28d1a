"""Paths, the peer harness's shared module, and Django start-up for benchmark processes.

Every benchmark process (the driver, each repetition's child, each worker) runs the project with
production-like settings: DEBUG off (Django then keeps no query log), the real settings module,
and `bench.workflows` imported at start so the benchmark workflows and tool are registered.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"

# Where the DBOS / LangGraph harness lives: its common.py defines the step, the statistics and
# the repetition runner every figure here is computed with.
PEERS_DIR = Path(os.environ.get("BENCH_PEERS_DIR", str(ROOT.parent / "shared" / "bench-peers"))).resolve()
PEERS_PY = os.environ.get("BENCH_PEERS_PY", "/tmp/peers-venv/bin/python")

# Our SQLite files and scratch data (the peer scripts keep their own BENCH_TMP).
TMP = Path(os.environ.get("AGENTOPS_BENCH_TMP", "/tmp/agentops-bench"))

SECRET_KEY = "bench-only-secret-key-not-for-any-deployment"


def peers_common():
    """The peer harness's `common` module (step_fn, INIT, expected_final, run_reps, row, ...)."""
    if not (PEERS_DIR / "common.py").is_file():
        raise SystemExit(f"peer harness not found at {PEERS_DIR} (set BENCH_PEERS_DIR)")
    # common.py reads BENCH_TMP at import; point it at our scratch directory unless told otherwise.
    os.environ.setdefault("BENCH_TMP", str(TMP))
    if str(PEERS_DIR) not in sys.path:
        sys.path.insert(0, str(PEERS_DIR))
    return importlib.import_module("common")


def django_env(database_url: str, *, redis_url: str = "", extra: dict | None = None) -> dict:
    """The environment of a process that runs the project against `database_url`."""
    env = dict(os.environ)
    for key in ("REDIS_URL", "DATABASE_URL"):
        env.pop(key, None)
    env.update(
        DJANGO_SETTINGS_MODULE="agentops.settings",
        AGENTOPS_ENV_FILE="",  # a developer's .env (DEBUG=1, REDIS_URL, ...) must not change the figures
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        WORKFLOW_MODULES="bench.workflows",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), str(PEERS_DIR), env.get("PYTHONPATH", "")) if p),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


def django_setup(database_url: str, *, redis_url: str = "") -> None:
    """Configure this process for `database_url` and start Django."""
    os.environ.pop("REDIS_URL", None)
    os.environ.update({k: v for k, v in django_env(database_url, redis_url=redis_url).items()
                       if k != "PYTHONPATH"})
    for path in (str(ROOT), str(PEERS_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import django

    django.setup()
