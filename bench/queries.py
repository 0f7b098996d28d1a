"""SQL statements and write transactions per unit of work, counted in-process.

Counts do not depend on the machine's load, so they explain the timings: what one W1 run, one
W2 decision and resume, and one 5-step agent-loop run cost in statements and commits (each
commit is an fsync on SQLite with synchronous=FULL and on PostgreSQL with fsync=on, except on
SQLite the claim and the task queue's dequeue and ack: see agentops.db.relaxed_durability).

The worker side is executed in this process with `execute_run`, as a worker would. The task
queue's own statements for one run (the pusher's dequeue, the monitor's result save — none for
a success — and the acknowledgement) are counted by doing those same calls here.

    python bench/queries.py --template TEMPLATE
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase  # noqa: E402
from bench.env import peers_common  # noqa: E402

C = peers_common()


class Counts:
    def __init__(self):
        self.statements = Counter()
        self.commits = 0  # explicit COMMITs (atomic blocks)
        self.autocommit_writes = 0  # writes outside any atomic block: a transaction each

    def add(self, other: "Counts") -> None:
        self.statements.update(other.statements)
        self.commits += other.commits
        self.autocommit_writes += other.autocommit_writes

    def as_dict(self, per: int = 1) -> dict:
        return {
            "statements": sum(self.statements.values()) / per,
            "by_verb": {k: v / per for k, v in sorted(self.statements.items())},
            "write_transactions": (self.commits + self.autocommit_writes) / per,
        }


@contextmanager
def counting():
    from django.db import connection

    counts = Counts()

    def wrapper(execute, sql, params, many, context):
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        counts.statements[verb] += 1
        if verb in ("INSERT", "UPDATE", "DELETE") and not connection.in_atomic_block:
            counts.autocommit_writes += 1
        return execute(sql, params, many, context)

    original = connection._commit

    def commit():
        counts.commits += 1
        return original()

    connection._commit = commit
    try:
        with connection.execute_wrapper(wrapper):
            yield counts
    finally:
        del connection._commit  # back to the class's method
        assert connection._commit.__func__ is original.__func__


def child(a) -> None:
    fresh = FreshDatabase(a.template, "queries")
    try:
        from bench.env import django_setup

        django_setup(fresh.url)
        from django.db import close_old_connections
        from django.utils import timezone
        from django_q.brokers import get_broker
        from django_q.monitor import save_task
        from django_q.signing import SignedPackage

        from approvals.models import ApprovalRequest
        from approvals.services import approval_decide
        from bench import fixtures
        from runs.engine import execute_run
        from runs.services import run_create

        w = fixtures.world()
        out = {}
        n = 5
        # W1: one run of 50 steps
        agent = fixtures.agent(w, "bench-w1", workflow="bench_steps")
        runs = [fixtures.new_run(w, agent, {"n": 50}) for _ in range(n + 1)]
        execute_run(runs[0].pk)
        with counting() as c:
            for run in runs[1:]:
                execute_run(run.pk)
        out["w1_run_50_steps"] = c.as_dict(per=n)

        # W2: the decision (the deciding process) and the resumed execution (the worker)
        agent = fixtures.agent(w, "bench-w2", workflow="bench_resume")
        decide, resume = Counts(), Counts()
        for i in range(n + 1):
            run, _ = run_create(principal=w.requester, agent_slug=agent.slug, input={})
            execute_run(run.pk)
            request = ApprovalRequest.objects.get(run_id=run.pk)
            with counting() as c:
                approval_decide(request_id=request.pk, user=w.approver.user, verdict="approve",
                                seen_hash=request.current_hash, principal=w.approver)
            if i:
                decide.add(c)
            with counting() as c:
                assert execute_run(run.pk) == "succeeded"
            if i:
                resume.add(c)
        out["w2_decision"] = decide.as_dict(per=n)
        out["w2_resumed_execution"] = resume.as_dict(per=n)

        # Agent loop: 5 steps (tool list, model, 2 tool calls, model)
        agent = fixtures.agent(w, "bench-loop", workflow="agent_loop", tools=[fixtures.TOOL],
                               provider_config={"responses": fixtures.loop_script(2, calls_per_response=2)})
        runs = [fixtures.new_run(w, agent, {"message": "x"}) for _ in range(n + 1)]
        execute_run(runs[0].pk)
        with counting() as c:
            for run in runs[1:]:
                execute_run(run.pk)
        out["agent_loop_run_5_steps"] = c.as_dict(per=n)
        # ... and its time when executed in-process, back to back (no task queue, no concurrency):
        # the engine's own ceiling for one worker.
        runs = [fixtures.new_run(w, agent, {"message": "x"}) for _ in range(a.timed)]
        walls, cpus = [], []
        for run in runs:
            c0, t0 = time.process_time(), time.perf_counter()
            assert execute_run(run.pk) == "succeeded"
            walls.append((time.perf_counter() - t0) * 1000.0)
            cpus.append((time.process_time() - c0) * 1000.0)
        out["agent_loop_run_5_steps"]["in_process_ms"] = statistics.median(walls)
        out["agent_loop_run_5_steps"]["in_process_cpu_ms"] = statistics.median(cpus)

        # The same run through the task queue: run_create (with its enqueue), the pusher's
        # dequeue, the worker's execution, the monitor's result save (none for a success with save_limit -1)
        # and acknowledgement.
        broker = get_broker()
        broker.purge_queue()
        with counting() as c:
            for _ in range(n):
                run_create(principal=w.requester, agent_slug=agent.slug, input={"message": "x"})
        out["run_create_with_enqueue"] = c.as_dict(per=n)
        parts = {"dequeue": Counts(), "execute": Counts(), "save_result_and_ack": Counts()}
        for _ in range(n):
            with counting() as c:
                task_id, payload = broker.dequeue()[0]
            parts["dequeue"].add(c)
            task = SignedPackage.loads(payload)
            close_old_connections()
            with counting() as c:
                result = execute_run(task["args"][0])
            parts["execute"].add(c)
            task.update(result=result, success=True, stopped=timezone.now(), ack_id=task_id)
            with counting() as c:
                save_task(task, broker)
                broker.acknowledge(task_id)
            parts["save_result_and_ack"].add(c)
        out["task_queue_per_run"] = {k: v.as_dict(per=n) for k, v in parts.items()}
    finally:
        fresh.drop()
    C.emit(out)


def measure(template: str, timed: int = 30) -> dict:
    return C.run_child([__file__, "--child", "--template", template, "--timed", str(timed)], timeout=600)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--timed", type=int, default=30)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
    else:
        C.emit(measure(args.template, args.timed))
