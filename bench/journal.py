"""Journal size of agent-loop runs of 10, 100 and 1,000 model calls: it must grow linearly
(a roughly constant number of bytes per call), not with the square of the conversation.

Each run is `agent_loop` with the scripted provider and the `bench.echo` tool granted: the
model asks for one tool call per response until the last response, which answers. A run of K
model calls therefore journals 1 code step (the tool list), K model steps and K-1 tool steps.
Executed in-process (`execute_run`) on a fresh database.

Bytes counted, as stored: the JSON text of every step's input, output, error and price column,
plus the size of every blob the run's steps refer to (the tool list is one such blob, shared by
all of the run's model steps). On PostgreSQL the JSON text size is reported (`octet_length` of
the jsonb cast to text), and the on-disk size (`pg_column_size`, after TOAST compression) too.

    python bench/journal.py --template TEMPLATE [--calls 10,100,1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()
COLUMNS = ("input", "output", "error", "price")


def journal_bytes(run_id) -> dict:
    from django.db import connection

    from runs.journal import collect_refs
    from runs.models import Blob, Step

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            text = " + ".join(f"coalesce(sum(octet_length({c}::text)), 0)" for c in COLUMNS)
            disk = " + ".join(f"coalesce(sum(pg_column_size({c})), 0)" for c in COLUMNS)
            cur.execute(f"SELECT count(*), {text}, {disk} FROM runs_step WHERE run_id = %s", [run_id])
            steps, step_bytes, step_disk = cur.fetchone()
        else:
            text = " + ".join(f"coalesce(sum(length(CAST({c} AS BLOB))), 0)" for c in COLUMNS)
            cur.execute(f"SELECT count(*), {text} FROM runs_step WHERE run_id = %s", [run_id.hex])
            steps, step_bytes = cur.fetchone()
            step_disk = None
    refs: set[str] = set()
    for inp, out in Step.objects.filter(run_id=run_id).values_list("input", "output"):
        collect_refs(inp, refs)
        collect_refs(out, refs)
    blob_bytes = sum(Blob.objects.filter(sha256__in=refs).values_list("size", flat=True))
    return {"steps": steps, "step_json_bytes": int(step_bytes), "step_disk_bytes": step_disk,
            "blobs": len(refs), "blob_bytes": blob_bytes, "total_bytes": int(step_bytes) + blob_bytes}


def child(a) -> None:
    fresh = FreshDatabase(a.template, "journal")
    try:
        from bench.env import django_setup

        django_setup(fresh.url)
        from bench import fixtures
        from runs.engine import execute_run
        from runs.models import Run, RunStatus, StepKind

        w = fixtures.world()
        out = []
        for calls in a.calls:
            agent = fixtures.agent(w, f"bench-journal-{calls}", workflow="agent_loop", tools=[fixtures.TOOL],
                                   provider_config={"responses": fixtures.loop_script(calls - 1)})
            run = fixtures.new_run(w, agent, {"message": "Echo these texts one by one."})
            t = time.perf_counter()
            outcome = execute_run(run.pk)
            seconds = time.perf_counter() - t
            run.refresh_from_db()
            if outcome != "succeeded" or run.status != RunStatus.SUCCEEDED:
                raise RuntimeError(f"{calls}-call run ended {run.status}: {run.error}")
            model_steps = run.steps.filter(kind=StepKind.LLM).count()
            assert model_steps == calls, (model_steps, calls)
            size = journal_bytes(run.pk)
            out.append({"model_calls": calls, "tool_calls": calls - 1, **size,
                        "bytes_per_model_call": size["total_bytes"] / calls, "execute_s": seconds})
        assert Run.objects.filter(status=RunStatus.SUCCEEDED).count() == len(a.calls)
    finally:
        fresh.drop()
    C.emit({"runs": out})


def measure(template: str, calls=(10, 100, 1000)) -> dict:
    res = C.run_child([__file__, "--child", "--template", template, "--calls", ",".join(map(str, calls))],
                      timeout=1800)
    runs = res["runs"]
    by = {r["model_calls"]: r for r in runs}
    marginal = []
    ks = sorted(by)
    for lo, hi in zip(ks, ks[1:]):
        marginal.append({"from": lo, "to": hi,
                         "bytes_per_added_call": (by[hi]["total_bytes"] - by[lo]["total_bytes"]) / (hi - lo)})
    return {"runs": runs, "marginal": marginal}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--calls", default="10,100,1000", type=lambda s: [int(x) for x in s.split(",") if x])
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        C.emit(measure(args.template, args.calls))
