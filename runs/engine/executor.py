"""Executing a run: claim it, replay its journal through the workflow, record how it ended.

`execute_run` is safe to call any number of times for the same run, from any worker: only the
holder of the lease executes, and a finished or waiting run is left alone.
`execute_queued` lets a worker go on with the queue after its task's run (the Run table is the
queue; a task is a wake-up call), so a busy system does not pay a task round trip per run.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agentops import config_cache
from agentops.agents.models import AgentVersion
from agentops.audit.services import Actor, audit_prepare
from agentops.logs import run_log_context
from agentops.memory.threads import thread_lock
from agentops.taskqueue import enqueue
from agentops.webhooks.services import webhook_emit
from tools.errors import ToolError

from ..errors import CancelRequested, ChildRunFailed, LeaseLost, RunFailure, StepFailed, Suspend
from ..journal import load_journal
from ..models import Run, RunStatus, StepStatus
from ..preview import output_preview
from ..registry import get_workflow
from ..rollups import run_rollups_add
from ..telemetry import otel_traces_endpoint
from ..threads import thread_run_ended
from ..waits import wait_deliver
from .context import RunContext
from .lease import Lease, new_worker_id, run_claim, run_claim_next

logger = logging.getLogger(__name__)


def execute_run(run_id, *, owner: str | None = None) -> str:
    """Advance the run as far as it can go now. Returns what happened, for logs and tests."""
    owner = owner or new_worker_id()
    run = run_claim(run_id=run_id, owner=owner)
    if run is None:
        return "not_claimed"
    return _execute_claimed(run, owner)


def execute_queued(*, budget_seconds: float, owner: str | None = None) -> int:
    """Claim and execute the oldest queued runs, one after another, until none is left or
    `budget_seconds` are spent; returns how many were executed.

    A worker that finished its task's run goes on with the queue here instead of going back to
    the task queue for each run: under load most runs then cost no task of their own, and their
    own tasks, when they come, find them taken and return at once.
    """
    owner = owner or new_worker_id()
    deadline = time.monotonic() + budget_seconds
    executed = 0
    while time.monotonic() < deadline:
        run = run_claim_next(owner=owner)
        if run is None:
            break
        _execute_claimed(run, owner)
        executed += 1
    return executed


def _execute_claimed(run: Run, owner: str) -> str:
    # One generation of the configuration for the whole execution (see config_cache.pinned).
    with config_cache.pinned():
        return _execute(run, owner)


def _execute(run: Run, owner: str) -> str:
    started = time.monotonic()
    _load_configuration(run)
    # A first execution has no journal yet: only the engine writes steps, and only while it holds the run.
    journal = load_journal(run.pk) if run.executions > 1 else {}
    ctx = RunContext(run, lease=Lease(run.pk, owner), journal=journal, started=started)
    workflow = get_workflow(run.workflow)
    with run_log_context(run_id=run.pk, tenant=run.tenant.slug):
        return _run_workflow(ctx, workflow)


def _run_workflow(ctx: RunContext, workflow) -> str:
    """Run the workflow to its end or its next wait; record how it ended."""
    run = ctx.run
    try:
        if workflow is None:
            raise RunFailure("unknown_workflow", f"no workflow named {run.workflow!r} is registered in this worker")
        output = workflow(ctx, run.input)
        _finish(ctx, RunStatus.SUCCEEDED, output=_json_output(output))
        return "succeeded"
    except Suspend:
        return "suspended"
    except LeaseLost:
        logger.warning("run %s: lease lost to another worker; stopping without writing", run.pk)
        return "lease_lost"
    except CancelRequested:
        _finish(ctx, RunStatus.CANCELLED, error={"code": "cancelled", "message": "the run was cancelled"})
        return "cancelled"
    except RunFailure as failure:
        _finish(ctx, RunStatus.FAILED, error=failure.as_dict())
        return "failed"
    except (ToolError, StepFailed, ChildRunFailed) as exc:
        _finish(ctx, RunStatus.FAILED, error={"code": "workflow_error", "message": str(exc)})
        return "failed"
    except Exception as exc:  # a bug in workflow code must end the run readably, not kill the worker
        logger.exception("run %s: workflow raised", run.pk)
        _finish(ctx, RunStatus.FAILED, error={"code": "workflow_error", "message": f"{type(exc).__name__}: {exc}"})
        return "failed"


def _load_configuration(run: Run) -> None:
    """The run's agent version, agent and tenant: one query, cached for a few seconds (see
    agentops.config_cache). The users it acts for load when a tool call needs them."""
    version = config_cache.cached(("run-configuration", run.agent_version_id),
                                  lambda: AgentVersion.objects.select_related("agent__tenant").get(pk=run.agent_version_id))
    run.agent_version = version
    run.agent = version.agent
    run.tenant = version.agent.tenant


def _json_output(output):
    try:
        return json.loads(json.dumps(output, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise RunFailure("invalid_output", f"the workflow returned a value that is not JSON: {exc}") from exc


def _finish(ctx: RunContext, status: str, *, output=None, error=None) -> None:
    """Record the end of the run (compare-and-swap on our lease), deliver it to a waiting parent,
    hand its thread to the next run, send the run's webhooks, notify viewers: one transaction."""
    run = ctx.run
    now = timezone.now()
    run.status, run.output, run.error, run.waiting_reason = status, output, error, ""
    event = audit_prepare(tenant=run.tenant, action=f"run.{status}", actor=Actor.for_run(run), target=run,
                          data={"agent": run.agent.slug, "error": error} if error else {"agent": run.agent.slug})
    release = ctx.journal.release(status=status, output=output, error=error, finished_at=now, waiting_reason="",
                                  output_preview=output_preview(output, error), events=[event])
    with transaction.atomic():
        if run.thread_ref_id:
            thread_lock(run.thread_ref_id)  # before the run's row, in the order run_create takes them
        if not release.apply():
            return  # the lease was lost meanwhile: the worker that holds it now records the end
        run_rollups_add(run.pk)
        if run.parent_id:
            child_end_deliver(run)
        if run.thread_ref_id:
            thread_run_ended(run, prompt_tokens=ctx.main_prompt_tokens())
        run_event_emit(run=run, event=f"run.{status}")
        if otel_traces_endpoint():  # built from the journal by a task: a slow collector never slows a run
            enqueue("runs.tasks.export_run_trace", str(run.pk), task_name=f"trace {run.pk}", save=False)
    ctx.journal.notify(ctx.journal.written)


def child_end_deliver(run: Run) -> bool:
    """Deliver a finished child run's end to the parent step that waits for it."""
    if run.status == RunStatus.SUCCEEDED:
        return wait_deliver(run_id=run.parent_id, seq=run.parent_step_seq,
                            output={"child_run": str(run.pk), "output": run.output})
    return wait_deliver(run_id=run.parent_id, seq=run.parent_step_seq, status=StepStatus.FAILED,
                        output={"child_run": str(run.pk)}, error=run.error or {"message": run.status})


def run_event_emit(*, run: Run, event: str) -> None:
    """Outbound webhooks for a run event, in the caller's transaction. `run` must be current and
    have its tenant and agent loaded."""
    webhook_emit(tenant=run.tenant, event=event, payload={
        "run": {"id": str(run.pk), "agent": run.agent.slug, "status": run.status,
                "waiting_reason": run.waiting_reason, "output": run.output, "error": run.error},
    })
