"""Instructions per durable step, counted by valgrind's callgrind: a figure a loaded machine
does not move, for comparing two versions of the engine's Python path.

Wall-clock figures here drift by 20-50% within an hour when the machine is shared; an
instruction count of the same work is the same to within a fraction of a percent. The process
runs under `valgrind --tool=callgrind` with collection off; after the warm-up runs it switches
collection on (`callgrind_control -i on`), executes RUNS runs of the workload in-process
(`execute_run`, as bench/w1.py and bench/profile_w1.py do), and switches it off again. What is
counted is this process's user-space instructions only: the Python interpreter, the engine, the
database driver and SQLite's own work; the kernel's (fsync, the disk) is not, so the figure is
the part of a step's cost that code can change. The instrumentation toggles add a constant
~1 M instructions, reported per step as less than 1% at the defaults.

    python bench/instructions.py [--workload w1|agent_loop] [--runs 10] [--warmup 2] [--n 50]
                                 [--keep FILE]   # keep the callgrind output for callgrind_annotate

Needs valgrind (Debian: `apt-get install valgrind`). SQLite only (a PostgreSQL server's work is
in another process). Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase, remove_sqlite, sqlite_template  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()

STEPS = {"agent_loop": 5}


def collection(state: str) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def dump(part: str) -> None:
    """Write the counts so far as their own part of the output (and start counting from zero)."""
    subprocess.run(["callgrind_control", "-d", part, str(os.getpid())], check=True, capture_output=True)


def baseline(calls: int) -> None:
    """The step function alone, as often as the workload calls it (its instructions are not
    the engine's): the peers' W1 baseline, counted instead of timed."""
    r = C.INIT
    for i in range(calls):
        r = C.step_fn(r, i % 50)


def child(a) -> None:
    fresh = FreshDatabase(a.template, "instr")
    try:
        from bench.env import django_setup

        # Configuration is read again after CONFIG_CACHE_SECONDS of wall-clock time: once in
        # hundreds of runs at full speed, every few runs under valgrind (see lease below).
        os.environ["CONFIG_CACHE_SECONDS"] = "3600"
        django_setup(fresh.url)
        from bench import fixtures
        from runs.engine import execute_run, lease

        # The lease is checked (one SELECT) once a second of wall-clock time: once in ~3,000
        # steps at full speed, but every few steps under valgrind, and more often the busier
        # the machine. Neither is counted here, so that the count is that of the steps alone.
        lease.CHECK_INTERVAL = float("inf")

        w = fixtures.world()
        if a.workload == "w1":
            agent = fixtures.agent(w, "bench-w1", workflow="bench_steps")
            runs = [fixtures.new_run(w, agent, {"n": a.n}) for _ in range(a.warmup + a.runs)]
        else:
            agent = fixtures.agent(w, "bench-loop", workflow="agent_loop", tools=[fixtures.TOOL],
                                   provider_config={"responses": fixtures.loop_script(2, calls_per_response=2)})
            runs = [fixtures.new_run(w, agent, {"message": "x"}) for _ in range(a.warmup + a.runs)]
        for run in runs[: a.warmup]:
            assert execute_run(run.pk) == "succeeded"
        collection("on")
        baseline(a.runs * a.n if a.workload == "w1" else 0)
        dump("baseline")
        outcomes = [execute_run(run.pk) for run in runs[a.warmup:]]
        dump("workload")
        collection("off")
        assert outcomes == ["succeeded"] * a.runs, outcomes
    finally:
        fresh.drop()


def measure(*, workload: str, runs: int, warmup: int, n: int, keep: str = "") -> dict:
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    template = sqlite_template()
    out_dir = tempfile.mkdtemp(prefix="callgrind-")
    out_file = os.path.join(out_dir, "callgrind.out")
    try:
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
             sys.executable, __file__, "--child", "--template", template, "--workload", workload,
             "--runs", str(runs), "--warmup", str(warmup), "--n", str(n)],
            capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"the measured process failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        parts = _parts(out_dir)
        if keep:
            shutil.copyfile(parts["workload"][1], keep)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
        remove_sqlite(template)
    steps = runs * STEPS.get(workload, n)
    total, base = parts["workload"][0], parts["baseline"][0]
    return {"workload": workload, "runs": runs, "steps": steps, "instructions": total,
            "instructions_per_run": round(total / runs), "instructions_per_step": round(total / steps),
            "step_fn_instructions_per_step": round(base / steps) if workload == "w1" else None,
            "overhead_instructions_per_step": round((total - base) / steps) if workload == "w1" else None}


def _parts(out_dir: str) -> dict[str, tuple[int, str]]:
    """{part: (instructions, file)} of the parts dumped by `dump`."""
    parts = {}
    for name in os.listdir(out_dir):
        path = os.path.join(out_dir, name)
        with open(path) as f:
            text = f.read()
        trigger = re.search(r"^desc: Trigger: dump (\w+)$", text, re.M)
        if trigger:
            parts[trigger.group(1)] = (int(re.search(r"^totals: (\d+)$", text, re.M).group(1)), path)
    return parts


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="w1", choices=("w1", "agent_loop"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--keep", default="", help="copy the callgrind output here (for callgrind_annotate)")
    ap.add_argument("--template", default="")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        print(json.dumps(measure(workload=args.workload, runs=args.runs, warmup=args.warmup, n=args.n,
                                 keep=args.keep)))
