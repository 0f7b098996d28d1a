"""Audited writes of one tenant from 1 and then 2 processes, on PostgreSQL: do they wait for each other?

Each writer process creates runs through the service (`runs.services.run_create`: the run's INSERT,
its `run.created` audit event and its queued task, one transaction) in a loop for --seconds, all
for the same tenant; a sequencer process seals the pending events every second, as a worker does.
Two modes, each from 1 and then 2 writer processes, each on a fresh database:

* sequencer: the project as it is: writers insert their events pending and take no lock;
* tenant-lock: what writers did before the sequencer: each transaction that records an event
  first locks the tenant's row (FOR NO KEY UPDATE) until it commits (emulated here by wrapping
  `audit_append_all`), so one tenant's writes run one at a time.

--hold-ms N keeps each transaction open N ms longer after its event is written, in both modes: the
statements that follow it in a bigger change, or the round trips to a database on another machine.

    python bench/audit_contention.py [--pg-url URL] [--seconds 10] [--modes sequencer,tenant-lock] [--hold-ms 0]

Without --pg-url (or BENCH_DATABASE_URL) it starts its own PostgreSQL with stock durability
(bench/postgres.sh) and stops it at the end. Prints the rate of each mode and process count with
the 1-minute load average, the events still pending at the end and the chain's verification;
writes bench/results/audit_contention.json (audit_contention-hold<N>ms.json with --hold-ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db as dbmod  # noqa: E402
from bench.env import RESULTS_DIR, ROOT, django_setup  # noqa: E402

AGENT = "audited"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--modes", default="sequencer,tenant-lock")
    parser.add_argument("--hold-ms", type=float, default=0)
    parser.add_argument("--role", choices=["driver", "setup", "writer", "sequencer", "report"], default="driver",
                        help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role != "driver":
        django_setup(args.url)
        {"setup": setup, "writer": write, "sequencer": sequence, "report": report}[args.role](args)
        return
    if args.pg_url:
        drive(args, args.pg_url)
        return
    with tempfile.TemporaryDirectory(prefix="bench-audit-pg-") as directory:
        subprocess.run([str(ROOT / "bench" / "postgres.sh"), "start", directory, "--no-redis"], check=True,
                       stdout=subprocess.DEVNULL)
        try:
            env = (Path(directory) / "env").read_text()
            url = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("export DATABASE_URL="))
            drive(args, url)
        finally:
            subprocess.run([str(ROOT / "bench" / "postgres.sh"), "stop", directory], stdout=subprocess.DEVNULL)


def drive(args, base_url: str) -> None:
    template = dbmod.pg_url_for(base_url, dbmod.pg_template(base_url))
    results = []
    for mode in args.modes.split(","):
        for processes in (1, 2):
            results.append(measure(template, mode, processes, args.seconds, args.hold_ms))
            print(line(results[-1]), flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = f"audit_contention-hold{args.hold_ms:g}ms.json" if args.hold_ms else "audit_contention.json"
    (RESULTS_DIR / name).write_text(json.dumps(results, indent=2) + "\n")


def measure(template: str, mode: str, processes: int, seconds: float, hold_ms: float) -> dict:
    database = dbmod.FreshDatabase(template, tag="audit")
    try:
        child(database.url, "setup")
        writers = [spawn(database.url, "writer", mode=mode, seconds=seconds, hold_ms=hold_ms) for _ in range(processes)]
        for writer in writers:  # Django started in each: then they start together
            if writer.stdout.readline().strip() != "ready":
                raise RuntimeError("a writer process failed to start")
        start = time.time() + 0.5
        sequencer = spawn(database.url, "sequencer", until=start + seconds)
        for writer in writers:
            writer.stdin.write(f"{start}\n")
            writer.stdin.flush()
        load_before = os.getloadavg()[0]
        counts = [json.loads(writer.communicate()[0])["runs"] for writer in writers]
        load = max(load_before, os.getloadavg()[0])
        sequencer.communicate()
        final = json.loads(child(database.url, "report"))
    finally:
        database.drop()
    return {"mode": mode, "processes": processes, "seconds": seconds, "hold_ms": hold_ms, "runs": sum(counts),
            "per_writer": counts,
            "runs_per_second": sum(counts) / seconds, "loadavg_1m": round(load, 2), **final}


def line(result: dict) -> str:
    return (f"{result['mode']:<12} {result['processes']} process{'es' if result['processes'] > 1 else '  '}: "
            f"{result['runs_per_second']:7.1f} audited runs/s (per writer {result['per_writer']}), "
            f"hold {result['hold_ms']:g} ms, load {result['loadavg_1m']:.2f}; "
            f"pending at the end {result['pending']}, chain {result['chain']}")


def spawn(url: str, role: str, **options) -> subprocess.Popen:
    command = [sys.executable, __file__, "--role", role, "--url", url]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def child(url: str, role: str) -> str:
    process = spawn(url, role)
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{role} failed")
    return out


def setup(args) -> None:
    from bench import fixtures

    fixtures.agent(fixtures.world(), AGENT, workflow="agent_loop")


def write(args) -> None:
    """Say "ready", read the start time, create runs through the service for --seconds from it;
    print how many."""
    from bench import fixtures
    from runs.services import run_create

    wrap_audited_writes(lock_tenant=args.mode == "tenant-lock", hold_ms=args.hold_ms)
    requester = fixtures.world().requester
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    time.sleep(max(0.0, start - time.time()))
    end, runs = start + args.seconds, 0
    while time.time() < end:
        run_create(principal=requester, agent_slug=AGENT, input={"message": "hello"})
        runs += 1
    print(json.dumps({"runs": runs}))


def wrap_audited_writes(*, lock_tenant: bool, hold_ms: float) -> None:
    """With `lock_tenant`, as before the sequencer: the tenant's row locked from the event's INSERT
    until the commit; with `hold_ms`, the transaction kept open that much longer after it."""
    from agentops.audit import services
    from agentops.tenancy.models import Tenant

    append_all = services.audit_append_all

    def wrapped(prepared):
        for tenant_id in sorted({item.event.tenant_id for item in prepared}) if lock_tenant else ():
            Tenant.objects.select_for_update(no_key=True).filter(pk=tenant_id).values_list("pk").get()
        events = append_all(prepared)
        time.sleep(hold_ms / 1000)
        return events

    services.audit_append_all = wrapped


def sequence(args) -> None:
    """Seal every second until --until, then once more."""
    from agentops.audit.sequencer import audit_seal

    while time.time() < args.until:
        audit_seal()
        time.sleep(1)
    audit_seal(wait=True)


def report(args) -> None:
    from agentops.audit.models import AuditEvent
    from agentops.audit.verify import audit_chain_verify
    from agentops.tenancy.models import Tenant

    checked, chain_break = audit_chain_verify(Tenant.objects.get(slug="bench"))
    print(json.dumps({"pending": AuditEvent.objects.filter(seq__isnull=True).count(), "events": checked,
                      "chain": "intact" if chain_break is None else str(chain_break)}))


if __name__ == "__main__":
    main()
