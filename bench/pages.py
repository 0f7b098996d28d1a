"""Pages and endpoints at 100,000 runs: median time, queries and response size of each.

    .venv/bin/python bench/pages.py                          # SQLite, the embedded default
    .venv/bin/python bench/pages.py --database postgres      # PostgreSQL: DATABASE_URL, or a private
                                                             # server started with scripts/services.sh
    options: --runs N (100,000), --repeat N (timed requests per target, 7), --rebuild

The data set (bench/pages_data.py: 100,000 runs, ~300,000 steps, a 1,000-step run, 1,000 pending
approvals, an audit event per run) takes a minute or two to build. It is kept between runs: on
SQLite as a file under $AGENTOPS_BENCH_TMP (/tmp/agentops-bench) named after the schema (a hash of
every migration) and the run count, copied afresh for each measurement; on PostgreSQL as a
database of that name. Requests go through Django's test client, in this process, as a signed-in
operator (an approver for the inbox and approvals) and with API keys: the whole request, the
middleware and the template rendering included, no HTTP server. Lists paged by cursor are followed
through their `next` links to reach a deep page; lists paged by number are asked for page 100.
The settings are production's (DEBUG off). Each line: the median wall time, the median CPU time
of this process (Django and, on SQLite, the database's work; steadier than wall time when other
work shares the cores), the queries of one request, the response size, the 1-minute load average.
Targets: every page and list under 200 ms (the audit page by filter and deep page included); the trace viewer and the steps page also under 1 MB.
Figures are written to bench/results/pages-<database>.json too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import pg_admin, pg_url_for, remove_sqlite, sqlite_url  # noqa: E402
from bench.env import RESULTS_DIR, ROOT, TMP, django_setup  # noqa: E402

DATA_VERSION = 1  # bump when bench/pages_data.py changes what it builds
TARGET_MS, TARGET_BYTES = 200, 1_000_000
DEEP_PAGE = 100


def schema_key(runs: int) -> str:
    """Names the kept data set: the migrations it was built with, the builder, the run count."""
    digest = hashlib.sha256(f"{DATA_VERSION}:{runs}".encode())
    for path in sorted(ROOT.glob("*/**/migrations/*.py")):
        if ".venv" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


# -- the database --------------------------------------------------------------------------------


def sqlite_database(runs: int, rebuild: bool) -> str:
    """A working copy of the kept SQLite data set (built first if missing); returns its URL."""
    folder = TMP / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"pages-{schema_key(runs)}.sqlite3"
    work = folder / f"work-{os.getpid()}.sqlite3"
    remove_sqlite(str(work))
    if kept.exists() and not rebuild:
        shutil.copyfile(kept, work)
        return sqlite_url(work)
    os.environ["AGENTOPS_PAGES_BUILD"] = str(kept)  # main() builds, then keeps a copy here
    return sqlite_url(work)


def keep_sqlite(url: str) -> None:
    """Fold the WAL into the file and keep a copy of it as the data set."""
    kept = os.environ.pop("AGENTOPS_PAGES_BUILD")
    path = url[len("sqlite:///"):]
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    shutil.copyfile(path, kept + ".partial")
    os.replace(kept + ".partial", kept)


class PrivateServer:
    """PostgreSQL from scripts/services.sh in a temporary directory, stopped at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pages-pg-")
        subprocess.run([str(ROOT / "scripts/services.sh"), "start", self.dir], check=True, stdout=subprocess.DEVNULL)
        env = Path(self.dir, "env").read_text()
        self.url = re.search(r"DATABASE_URL=['\"]?([^'\"\s]+)", env).group(1)

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts/services.sh"), "stop", self.dir], check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_database(base_url: str, runs: int, rebuild: bool) -> str:
    """The database holding the data set on the server of `base_url` (made if missing)."""
    name = f"agentops_pages_{schema_key(runs)}"
    import psycopg

    with psycopg.connect(base_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists and rebuild:
        pg_admin(base_url, f"DROP DATABASE {name} WITH (FORCE)")
    if not exists or rebuild:
        pg_admin(base_url, f"CREATE DATABASE {name}")
        os.environ["AGENTOPS_PAGES_BUILD"] = "postgres"
    return pg_url_for(base_url, name)


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    url: str
    median_ms: float
    cpu_ms: float  # of this process (Django, and SQLite's work; not PostgreSQL's): steadier under load
    queries: int
    bytes: int
    status: int
    load: float
    size_limited: bool = False

    @property
    def verdict(self) -> str:
        over = self.median_ms >= TARGET_MS or (self.size_limited and self.bytes >= TARGET_BYTES)
        return "over" if over or self.status != 200 else "ok"


def measure(name: str, client, url: str, *, repeat: int, size_limited=False, **headers) -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    load = os.getloadavg()[0]
    response = client.get(url, **headers)  # warm: the templates, the config cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    queries = len(captured)  # now: the next request clears the connection's query log
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Figure(name, url, statistics.median(times), statistics.median(cpu), queries, len(response.content),
                  response.status_code, load, size_limited)


CURSOR_HREF = re.compile(r'href="([^"]*[?&](?:cursor|after|before)=[^"]*)"')
NEXT_HREF = re.compile(r'<a href="([^"]*)"[^>]*rel="next"')


def next_link(response, *, api: bool, base: str) -> str | None:
    """Where the next page of a list is, when the list pages by cursor (the API's `next`, or
    the first link of a page that carries a cursor, read relative to `base`); None otherwise."""
    import html
    from urllib.parse import urljoin

    if api:
        body = response.json()
        return body.get("next") if isinstance(body, dict) else None
    page = response.content.decode()
    match = NEXT_HREF.search(page) or CURSOR_HREF.search(page)
    return urljoin(base, html.unescape(match.group(1))) if match else None


def deep_page(client, url: str, *, api: bool, **headers) -> str:
    """The URL of page DEEP_PAGE of a list (its last page if it is shorter): through the `next`
    links when there are any, else by number (page=, or offset= in the API)."""
    following = next_link(client.get(url, **headers), api=api, base=url)
    if following is None:
        join = "&" if "?" in url else "?"
        return f"{url}{join}offset={(DEEP_PAGE - 1) * 50}" if api else f"{url}{join}page={DEEP_PAGE}"
    for _ in range(DEEP_PAGE - 2):
        after = next_link(client.get(following, **headers), api=api, base=following)
        if after is None:
            break
        following = after
    return following


OPERATOR, APPROVER = "bench-operator", "bench-approver"


def targets(built, users: dict) -> list[tuple]:
    """(name, who asks, url, options) of every page and endpoint measured."""
    run, operator, approver = built.long_run, OPERATOR, APPROVER
    return [
        ("trace viewer (1,000-step run)", operator, f"/runs/{run}/", {"size_limited": True}),
        ("steps API, page after #500", operator, f"/api/v1/runs/{run}/steps/?after=500", {"size_limited": True, "api": True}),
        ("/runs/", operator, "/runs/", {}),
        ("/runs/ deep page", operator, "/runs/", {"deep": True}),
        ("/runs/ by user", operator, f"/runs/?user={users['bench-dev']}", {}),
        ("/runs/ by status failed", operator, "/runs/?status=failed", {}),
        ("/runs/ search 'refund'", operator, "/runs/?q=refund", {}),
        ("/api/v1/runs/", operator, "/api/v1/runs/", {"api": True}),
        ("/api/v1/runs/ deep page", operator, "/api/v1/runs/", {"api": True, "deep": True}),
        ("/inbox/ (approver)", approver, "/inbox/", {}),
        ("/api/v1/approvals/?status=pending", approver, "/api/v1/approvals/?status=pending", {"api": True}),
        ("/dashboard/ 14 days", operator, "/dashboard/?days=14", {}),
        ("/dashboard/ 30 days", operator, "/dashboard/?days=30", {}),
        ("audit list (admin)", operator, "/admin/audit/auditevent/", {}),
        ("/audit/", operator, "/audit/", {}),
        ("/audit/ deep page", operator, "/audit/", {"deep": True}),
        ("/audit/ by action", operator, "/audit/?action=run.failed", {}),
        ("/audit/ by run", operator, f"/audit/?run={run}", {}),
        ("/metrics (from loopback)", operator, "/metrics", {}),
    ]


def run_all(built, repeat: int) -> list[Figure]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = dict(get_user_model().objects.filter(username__startswith="bench-").values_list("username", "pk"))
    sessions = {}
    for name in (OPERATOR, APPROVER):
        sessions[name] = Client()
        sessions[name].force_login(get_user_model().objects.get(username=name))
    keys = {OPERATOR: built.operator_key, APPROVER: built.approver_key}
    figures = []
    for name, client_name, url, options in targets(built, users):
        api = options.get("api", False)
        client = Client() if api else sessions[client_name]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {keys[client_name]}"} if api else {}
        if options.get("deep"):
            url = deep_page(client, url, api=api, **headers)
        figure = measure(name, client, url, repeat=repeat, size_limited=options.get("size_limited", False), **headers)
        print(row(figure), flush=True)
        figures.append(figure)
    return figures


def write_results(figures: list[Figure], database: str, runs: int) -> None:
    from bench.version import engine_version

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"pages-{database}.json").write_text(json.dumps({
        "database": database, "runs": runs, "version": engine_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": [{**f.__dict__, "verdict": f.verdict} for f in figures],
    }, indent=1) + "\n")


def row(f: Figure) -> str:
    return (f"{f.name:<38} {f.median_ms:>8.1f} ms  cpu {f.cpu_ms:>7.1f} ms {f.queries:>4} q {f.bytes / 1024:>8.1f} KiB  "
            f"HTTP {f.status}  load {f.load:>4.2f}  {f.verdict}")


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="build the data set again even if kept")
    a = parser.parse_args()
    server = None
    try:
        if a.database == "postgres":
            base = os.environ.get("DATABASE_URL", "") or os.environ.get("BENCH_PG_URL", "")
            if not base.startswith(("postgres://", "postgresql://")):
                server = PrivateServer()
                base = server.url
            url = postgres_database(base, a.runs, a.rebuild)
        else:
            url = sqlite_database(a.runs, a.rebuild)
        figures = run_on(url, a)
    finally:
        if server is not None:
            server.stop()
        if a.database == "sqlite":
            remove_sqlite(str(TMP / "pages" / f"work-{os.getpid()}.sqlite3"))
    write_results(figures, a.database, a.runs)
    over = [f.name for f in figures if f.verdict != "ok"]
    print(f"\n{len(figures) - len(over)} of {len(figures)} within target" + (f"; over: {', '.join(over)}" if over else ""))
    return 0


def run_on(url: str, a) -> list[Figure]:
    os.environ["ALLOWED_HOSTS"] = "testserver"
    django_setup(url)
    from django.core.management import call_command
    from django.db import connections

    from bench import pages_data

    building = os.environ.get("AGENTOPS_PAGES_BUILD")
    if building:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        pages_data.build(runs=a.runs, log=lambda m: print(
            f"  building ({time.perf_counter() - started:.0f} s): {m}", flush=True))
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        connections.close_all()
        if a.database == "sqlite":
            keep_sqlite(url)
        else:
            os.environ.pop("AGENTOPS_PAGES_BUILD")
    if not pages_data.is_complete():
        raise SystemExit("the kept data set is incomplete (a build was interrupted): run again with --rebuild")
    built = pages_data.handles()
    print(f"\n{a.database}, {a.runs:,} runs, median of {a.repeat} requests, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")
    return run_all(built, a.repeat)


if __name__ == "__main__":
    sys.exit(main())
