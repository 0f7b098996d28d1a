"""Executing a run: claim it, replay its journal through the workflow, record how it ended.

`execute_run` is safe to call any number of times for the same run, from any worker: only the
holder of the lease executes, and a finished or waiting run is left alone.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agentops.audit.services import Actor, audit_record

from .context import RunContext, _notify_step
from .errors import CancelRequested, ChildRunFailed, LeaseLost, RunFailure, StepFailed, Suspend, ToolError
from .journal import collect_refs, load_blobs, resolve
from .lease import Lease, new_worker_id, run_claim
from .models import Run, RunStatus, Step
from .registry import get_workflow

logger = logging.getLogger(__name__)

JOURNAL_FIELDS = ("id", "seq", "kind", "name", "status", "output", "error", "attempt", "started_at")


def load_journal(run_id) -> dict[int, Step]:
    """The run's steps by seq, outputs resolved: one query for the steps, one for their blobs.

    Inputs are not loaded: replay needs only what each step returned.
    """
    steps = list(Step.objects.filter(run_id=run_id).only(*JOURNAL_FIELDS).order_by("seq"))
    refs: set[str] = set()
    for step in steps:
        collect_refs(step.output, refs)
    blobs = load_blobs(refs)
    for step in steps:
        step.output = resolve(step.output, blobs)
        step.run_id = run_id
    return {step.seq: step for step in steps}


def execute_run(run_id, *, owner: str | None = None) -> str:
    """Advance the run as far as it can go now. Returns what happened, for logs and tests."""
    owner = owner or new_worker_id()
    if not run_claim(run_id=run_id, owner=owner):
        return "not_claimed"
    started = time.monotonic()
    run = Run.objects.select_related("agent", "agent_version", "tenant", "created_by", "on_behalf_of").get(pk=run_id)
    ctx = RunContext(run, lease=Lease(run_id, owner), journal=load_journal(run_id), started=started)
    workflow = get_workflow(run.workflow)
    try:
        if workflow is None:
            raise RunFailure("unknown_workflow", f"no workflow named {run.workflow!r} is registered in this worker")
        output = workflow(ctx, run.input)
        _finish(ctx, RunStatus.SUCCEEDED, output=_json_output(output))
        return "succeeded"
    except Suspend:
        return "suspended"
    except LeaseLost:
        logger.warning("run %s: lease lost to another worker; stopping without writing", run_id)
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
        logger.exception("run %s: workflow raised", run_id)
        _finish(ctx, RunStatus.FAILED, error={"code": "workflow_error", "message": f"{type(exc).__name__}: {exc}"})
        return "failed"


def _json_output(output):
    try:
        return json.loads(json.dumps(output, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise RunFailure("invalid_output", f"the workflow returned a value that is not JSON: {exc}") from exc


def _finish(ctx: RunContext, status: str, *, output=None, error=None) -> None:
    """Record the end of the run (compare-and-swap on our lease), wake a waiting parent, notify."""
    from .services import run_resume, run_event_emit

    run = ctx.run
    with transaction.atomic():
        finished = Run.objects.filter(pk=run.pk, lease_owner=ctx.lease.owner, status=RunStatus.RUNNING).update(
            status=status, output=output, error=error, finished_at=timezone.now(), waiting_reason="",
            lease_owner="", lease_expires_at=None, step_count=ctx._written,
            active_seconds=ctx.active_seconds(), updated_at=timezone.now(),
        )
        if finished != 1:
            return  # the lease was lost meanwhile: the worker that holds it now records the end
        audit_record(tenant=run.tenant, action=f"run.{status}", actor=Actor.for_run(run), target=run,
                     data={"agent": run.agent.slug, "error": error} if error else {"agent": run.agent.slug})
        if run.parent_id:
            run_resume(run_id=run.parent_id)
        run_event_emit(run_id=run.pk, event=f"run.{status}")
    _notify_step(run.pk, ctx._written)
