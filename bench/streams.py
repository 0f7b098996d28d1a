"""What idle run event streams cost the web process: threads, database connections, memory.

A real web server (daphne serving `agentops.asgi`, as `make web` does) on a fresh database with
queued runs and no worker, so that their streams (`GET /api/v1/runs/{id}/events/`) stay idle.
Streams are opened in steps (`--streams 0,50,200`), each until its first event; after
`--settle` seconds (a few polls of the follower, a keepalive or two) the web process's threads
(/proc/<pid>/status), its database connections (PostgreSQL: its sessions in pg_stat_activity;
SQLite: the write-ahead logs it holds open, one per connection) and its RSS are read. Memory per
stream is the RSS growth from one step to the next, divided by the streams added (after a first
stream opened and dropped, so that what the first request loads is not counted). Last, one
run is cancelled through the API and its stream must end with `end`.

    python bench/streams.py [--streams 0,50,200] [--settle 4] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db as dbmod  # noqa: E402
from bench.env import ROOT, TMP, django_env, django_setup  # noqa: E402


def seed(runs: int) -> tuple[str, list[str]]:
    """An API key and `runs` queued runs (nothing enqueued: no worker will take them)."""
    from agentops.audit.services import Actor
    from agentops.tenancy.services import api_key_create
    from bench.fixtures import agent, new_run, world

    w = world()
    streamer = agent(w, "streamer", workflow="bench_steps")
    _, key = api_key_create(tenant=w.tenant, user=w.requester.user, name="bench", scopes=["read", "runs:write"],
                            actor=Actor.system("bench"))
    return key, [str(new_run(w, streamer, {"n": 1}).pk) for _ in range(runs + 1)]  # one to warm up


def process_figures(pid: int, database_url: str) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"threads": int(status["Threads"]), "rss_kb": int(status["VmRSS"].split()[0]),
            "connections": database_connections(pid, database_url), "load": os.getloadavg()[0]}


def database_connections(pid: int, database_url: str) -> int:
    if dbmod.is_sqlite(database_url):
        wal = os.path.realpath(dbmod.sqlite_path(database_url)) + "-wal"
        return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.path.realpath(fd) == wal)
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
        # The server's sessions: every one but this one (nobody else uses this fresh database).
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchone()[0]


@contextlib.contextmanager
def web_server(database_url: str):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = django_env(database_url, extra={"ALLOWED_HOSTS": "127.0.0.1"})
    log = TMP / f"streams-daphne-{os.getpid()}.log"
    daphne = str(Path(sys.executable).with_name("daphne"))
    process = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "agentops.asgi:application"], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not start:\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


async def measure(base: str, pid: int, key: str, runs: list[str], steps: list[int], settle: float,
                  database_url: str) -> tuple[list[dict], dict]:
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    limits = httpx.Limits(max_connections=len(runs) + 10)
    rows, streams = [], []
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client, \
            contextlib.AsyncExitStack() as stack:
        async def open_stream(run_id):
            response = await stack.enter_async_context(client.stream("GET", f"/api/v1/runs/{run_id}/events/",
                                                                     headers=headers))
            lines = response.aiter_lines()
            async for line in lines:
                if line.startswith("event: status"):
                    return lines

        # A first stream, opened and dropped, so that what every request loads once is not
        # counted as the streams' memory.
        await warm_up(client, headers, runs.pop())
        for count in steps:
            streams += await asyncio.gather(*(open_stream(run) for run in runs[len(streams):count]))
            await asyncio.sleep(settle)
            rows.append({"streams": count, **await asyncio.to_thread(process_figures, pid, database_url)})
        ended = await cancelled_stream_ends(client, key, runs[0], streams[0]) if streams else None
    return rows, ended


async def warm_up(client, headers: dict, run_id: str) -> None:
    async with client.stream("GET", f"/api/v1/runs/{run_id}/events/", headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: status"):
                return


async def cancelled_stream_ends(client, key: str, run_id: str, lines) -> dict:
    started = time.monotonic()
    cancelled = await client.post(f"/api/v1/runs/{run_id}/cancel/", headers={"Authorization": f"Bearer {key}"})
    cancelled.raise_for_status()
    seen = []
    async with asyncio.timeout(30):
        async for line in lines:
            seen.append(line)
            if line.startswith("data:") and "event: end" in seen:
                return {"ended": True, "seconds": time.monotonic() - started}
    return {"ended": False, "seconds": time.monotonic() - started}


def report(rows: list[dict], ended, backend: str) -> None:
    print(f"\nIdle event streams, {backend} (web process: daphne)")
    print("| streams | threads | DB connections | RSS (MB) | load (1 min) |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['streams']} | {row['threads']} | {row['connections']} | {row['rss_kb'] / 1024:.1f} "
              f"| {row['load']:.2f} |")
    for before, after in zip(rows, rows[1:]):
        per_stream = (after["rss_kb"] - before["rss_kb"]) / (after["streams"] - before["streams"])
        print(f"memory per idle stream from {before['streams']} to {after['streams']}: {per_stream:.0f} kB")
    if ended is not None:
        print(f"a cancelled run's stream ended: {ended['ended']} ({ended['seconds']:.2f} s after the cancel)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="0,50,200", help="stream counts to measure at, rising")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds to wait before each reading")
    parser.add_argument("--pg-url", default="", help="a PostgreSQL server to use instead of SQLite")
    args = parser.parse_args()
    steps = [int(n) for n in args.streams.split(",")]

    TMP.mkdir(parents=True, exist_ok=True)
    if args.pg_url:
        template = dbmod.pg_url_for(args.pg_url, dbmod.pg_template(args.pg_url))
    else:
        template = dbmod.sqlite_template()
    database = dbmod.FreshDatabase(template, "streams")
    try:
        django_setup(database.url)
        key, runs = seed(max(steps))
        from django.db import connections

        connections.close_all()  # count only the server's
        with web_server(database.url) as (base, pid):
            rows, ended = asyncio.run(measure(base, pid, key, runs, steps, args.settle, database.url))
        report(rows, ended, "PostgreSQL" if args.pg_url else "SQLite")
    finally:
        database.drop()
        if not args.pg_url:
            dbmod.remove_sqlite(template)


if __name__ == "__main__":
    main()
