"""Profile W1 (50 durable steps run by execute_run) with cProfile and print where the time goes.

    python bench/profile_w1.py [--db sqlite|postgres] [--pg-url URL] [--runs 30] [--top 40]
                               [--workload w1|agent_loop]

--workload agent_loop profiles the throughput test's 5-step agent-loop run instead (tool list,
model, 2 tool calls, model), executed in-process.

With --db postgres, --pg-url (or BENCH_DATABASE_URL) names a database the bench user may clone
templates in (see bench/postgres.sh). Prints the top functions by own time and by cumulative time,
and a grouping of own time by area (Django ORM / SQL compiler, database driver, JSON, engine).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase, pg_template, pg_url_for, sqlite_template, remove_sqlite  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()

AREAS = (
    ("sqlite3 driver (execute/commit, incl. fsync)", ("sqlite3", "{method 'commit' of 'sqlite3", "{method 'execute' of 'sqlite3")),
    ("psycopg driver (round trips, commit)", ("psycopg",)),
    ("django.db.models (model init, save, querysets)", ("django/db/models",)),
    ("django.db.backends (cursor wrappers, adapters)", ("django/db/backends",)),
    ("django.db transaction (atomic, on_commit)", ("django/db/transaction",)),
    ("json / DjangoJSONEncoder", ("json/", "serializers/json", "{built-in method _json")),
    ("django.utils (timezone, functional)", ("django/utils",)),
    ("runs engine (context, journal, lease, live)", ("/runs/",)),
    ("tools gateway / registry / adapters", ("/tools/",)),
    ("audit chain", ("/audit/",)),
    ("llm gateway / providers / pricing", ("/llm/",)),
    ("pydantic / jsonschema", ("pydantic", "jsonschema")),
    ("channels / asgiref (live notices)", ("channels/", "asgiref/")),
)


def area_of(filename: str, funcname: str) -> str:
    key = f"{filename}:{funcname}"
    for label, needles in AREAS:
        if any(n in key for n in needles):
            return label
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--template", default="", help="reuse a template made by bench/engine.py")
    ap.add_argument("--workload", default="w1", choices=("w1", "agent_loop"))
    ap.add_argument("--save", default="", help="also write the raw profile here (for pstats)")
    a = ap.parse_args()

    made_template = None
    template = a.template
    if not template:
        if a.db == "sqlite":
            template = made_template = sqlite_template()
        else:
            if not a.pg_url:
                raise SystemExit("--pg-url (or BENCH_DATABASE_URL) is required with --db postgres")
            template = pg_url_for(a.pg_url, pg_template(a.pg_url))
    fresh = FreshDatabase(template, "profile")
    try:
        from bench.env import django_setup

        django_setup(fresh.url)
        from bench import fixtures
        from runs.engine import execute_run

        w = fixtures.world()
        if a.workload == "w1":
            agent = fixtures.agent(w, "bench-w1", workflow="bench_steps")
            runs = [fixtures.new_run(w, agent, {"n": a.n}) for _ in range(a.warmup + a.runs)]
        else:
            a.n = 5
            agent = fixtures.agent(w, "bench-loop", workflow="agent_loop", tools=[fixtures.TOOL],
                                   provider_config={"responses": fixtures.loop_script(2, calls_per_response=2)})
            runs = [fixtures.new_run(w, agent, {"message": "x"}) for _ in range(a.warmup + a.runs)]
        for run in runs[: a.warmup]:
            execute_run(run.pk)
        profiler = cProfile.Profile()
        wall = time.perf_counter()
        profiler.enable()
        for run in runs[a.warmup:]:
            execute_run(run.pk)
        profiler.disable()
        wall = (time.perf_counter() - wall) * 1000.0
        if a.save:
            profiler.dump_stats(a.save)
    finally:
        fresh.drop()
        if made_template:
            remove_sqlite(made_template)

    steps = a.runs * a.n
    stats = pstats.Stats(profiler)
    total = stats.total_tt * 1000.0
    print(f"# {a.workload} profile, {a.db}: {a.runs} runs x {a.n} steps; wall {wall:.0f} ms "
          f"({wall / steps * 1000:.0f} us per step), profiled CPU {total:.0f} ms "
          f"({total / steps * 1000:.0f} us per step; cProfile inflates Python-heavy code)")
    by_area = defaultdict(float)
    for (filename, _line, funcname), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        by_area[area_of(filename, funcname)] += tt
    print("\n## own time by area (us per step)")
    for label, tt in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"{tt * 1e6 / steps:8.1f}  {tt * 1000 / total * 100 if total else 0:5.1f}%  {label}")
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(a.top)
        print(f"\n## top {a.top} by {title}")
        print(out.getvalue().split("\n", 6)[-1] if "ncalls" in out.getvalue() else out.getvalue())


if __name__ == "__main__":
    main()
