"""The verbs that change runs. Each is one transaction; the tasks it queues reach workers when it commits."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agentops.agents.errors import AgentRestricted
from agentops.agents.models import Agent, AgentVersion
from agentops.agents.services import agent_update
from agentops.agents.selectors import user_may_start_agent
from agentops.audit.services import Actor, audit_record
from agentops.memory.models import Thread, ThreadConcurrency
from agentops.memory.threads import thread_get_or_create_locked, thread_lock
from agentops.tenancy.models import Membership
from agentops.tenancy.services import tenant_update
from agentops.webhooks.services import webhook_sweep

from . import store
from .engine.lease import holder_is_dead
from .errors import RunError
from .models import FINISHED_STATUSES, Run, RunStatus, Step, StepKind, StepStatus, WaitingReason
from .preview import input_preview, output_preview
from .rollups import run_rollups_add
from .threads import (
    thread_active_runs,
    thread_next_start,
    thread_run_ended,
    thread_waiting_runs,
    threads_wake_stranded,
)
from .waits import run_enqueue, timer_fire, wait_deliver, wait_kinds

logger = logging.getLogger(__name__)


def run_create(*, principal, agent_slug: str, input: dict, on_behalf_of=None, thread: str = "",
               metadata: dict | None = None, idempotency_key: str | None = None,
               version: int | None = None) -> tuple[Run, bool]:
    """Start a run of the agent's current version (or of its version number `version`); returns
    (run, created).

    With an `idempotency_key` already used in the tenant, returns that run instead (created False),
    or refuses with `idempotency_conflict` when the earlier request differed.

    A `thread` (the client's string) is the tenant's Thread of that id, made if new. While another
    run of the thread is active, the thread's policy decides (see `_thread_admit`).
    """
    tenant = principal.tenant
    agent = Agent.objects.select_related("current_version").filter(tenant=tenant, slug=agent_slug).first()
    if agent is None or agent.current_version is None:
        raise RunError("unknown_agent", f"no agent {agent_slug!r} in tenant {tenant.slug}")
    if not user_may_start_agent(user=principal.user, agent=agent):
        _refuse_start(principal, agent)
    agent_version = _version_to_run(agent, version)
    asked_version = agent_version if version is not None else None
    if on_behalf_of is not None and not Membership.objects.filter(tenant=tenant, user=on_behalf_of).exists():
        raise RunError("invalid_on_behalf_of", f"{on_behalf_of.get_username()} is not a member of {tenant.slug}")
    if idempotency_key:
        existing = _run_for_idempotency_key(tenant, idempotency_key, agent, input, asked_version)
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            actor = Actor.for_api_key(principal.api_key) if principal.api_key else Actor.for_user(principal.user)
            thread_row = (thread_get_or_create_locked(tenant=tenant, external_id=thread, user=principal.user)
                          if thread else None)
            starts_now = thread_row is None or _thread_admit(thread_row, actor)
            run = Run.objects.create(
                tenant=tenant, agent=agent, agent_version=agent_version,
                workflow=agent_version.workflow, input=input, input_preview=input_preview(input),
                thread=thread, thread_ref=thread_row, metadata=metadata or {},
                created_by=principal.user, api_key=principal.api_key, on_behalf_of=on_behalf_of,
                idempotency_key=idempotency_key or None,
                **({} if starts_now else {"status": RunStatus.WAITING, "waiting_reason": WaitingReason.THREAD}),
            )
            data = {"agent": agent.slug, "version": agent_version.number,
                    "on_behalf_of": on_behalf_of.get_username() if on_behalf_of else None}
            if "replay_of" in run.metadata:
                data["replay_of"] = run.metadata["replay_of"]
            audit_record(tenant=tenant, action="run.created", actor=actor, target=run, data=data)
            if starts_now:
                run_enqueue(run.pk)
    except IntegrityError:
        # A concurrent request with the same idempotency key won the insert.
        existing = (_run_for_idempotency_key(tenant, idempotency_key, agent, input, asked_version)
                    if idempotency_key else None)
        if existing is None:
            raise
        return existing, False
    return run, True


def _thread_admit(thread: Thread, actor: Actor) -> bool:
    """Whether a new run of the (locked) `thread` starts now; False: it waits its turn.

    While a run of the thread is active: `queue` makes the new run wait; `reject` refuses it
    (`thread_busy`); `interrupt` cancels the active run and those waiting, and the new run starts
    now, or as soon as the active run stops at its next step boundary.
    """
    active = list(thread_active_runs(thread.pk))
    if not active and not thread_waiting_runs(thread.pk).exists():
        return True
    if not active:  # runs wait behind a hand-off that was lost: the oldest goes first
        thread_next_start(thread.pk)
        return False
    if thread.concurrency == ThreadConcurrency.REJECT:
        raise RunError("thread_busy", f"thread {thread.external_id!r} has a run in progress ({active[0].pk}); "
                                      "send the message again when it has ended")
    if thread.concurrency == ThreadConcurrency.INTERRUPT:
        for run in [*thread_waiting_runs(thread.pk), *active]:  # the waiting first: none may take the turn
            run_cancel(run=run, actor=actor)
        return not thread_active_runs(thread.pk).exists()
    return False


def _refuse_start(principal, agent: Agent) -> None:
    """Record the refusal (`run.refused`, committed although the request fails) and raise it."""
    error = AgentRestricted(principal.user, agent)
    actor = Actor.for_api_key(principal.api_key) if principal.api_key else Actor.for_user(principal.user)
    with transaction.atomic():
        audit_record(tenant=principal.tenant, action="run.refused", actor=actor, target=agent,
                     data={"agent": agent.slug, "user": principal.user.get_username(), **error.as_dict()})
    raise RunError(error.code, error.message)



def _version_to_run(agent: Agent, number: int | None) -> AgentVersion:
    if number is None or number == agent.current_version.number:
        return agent.current_version
    version = AgentVersion.objects.filter(agent=agent, number=number).first()
    if version is None:
        raise RunError("unknown_version", f"agent {agent.slug!r} has no version {number}")
    if version.drained:
        raise RunError("agent_version_drained", f"version {number} of {agent.slug!r} is drained: new runs may not "
                                                f"pin it; start them on the current version "
                                                f"({agent.current_version.number})")
    return version


def _run_for_idempotency_key(tenant, key, agent, input, version=None) -> Run | None:
    """The run an earlier request with `key` started. It must match this one: its agent, input and,
    when this one asks for a version, that version."""
    run = Run.objects.filter(tenant=tenant, idempotency_key=key).first()
    if run is not None and (run.agent_id != agent.pk or run.input != input
                            or (version is not None and run.agent_version_id != version.pk)):
        raise RunError("idempotency_conflict",
                       f"Idempotency-Key {key!r} was already used for a different request (run {run.pk})")
    return run


def run_replay(*, principal, run: Run, pinned: bool = False, idempotency_key: str | None = None) -> tuple[Run, bool]:
    """Start the run's agent again on the same input and thread, with its current version or (with
    `pinned`) the version `run` ran; the new run's metadata says `replay_of`. It is a new run of
    the person replaying it (not of whoever the first acted for), created like any other."""
    return run_create(
        principal=principal, agent_slug=run.agent.slug, input=run.input, thread=run.thread,
        metadata={**run.metadata, "replay_of": str(run.pk)}, idempotency_key=idempotency_key,
        version=run.agent_version.number if pinned else None,
    )


def run_cancel(*, run: Run, actor: Actor) -> Run:
    """Cancel a run. A queued or waiting run ends at once (what it waits for is withdrawn, and a
    parent waiting for it is told); a running one is asked to stop and ends at its next step
    boundary. Its children are cancelled too."""
    with transaction.atomic():
        if run.thread_ref_id:
            thread_lock(run.thread_ref_id)  # before the run's row, in the order run_create takes them
        now = timezone.now()
        error = {"code": "cancelled", "message": f"cancelled by {actor.label}"}
        ended = Run.objects.filter(pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.WAITING]).update(
            status=RunStatus.CANCELLED, cancel_requested=True, finished_at=now, waiting_reason="", updated_at=now,
            error=error, output_preview=output_preview(None, error),
        )
        if not ended and not Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True):
            raise RunError("not_cancellable", f"run {run.pk} has already ended ({run.status})")
        if ended:
            run_rollups_add(run.pk)
            if run.thread_ref_id:
                thread_run_ended(run)
            for kind in wait_kinds():
                kind.cancel(run=run)
            if run.parent_id:
                wait_deliver(run_id=run.parent_id, seq=run.parent_step_seq, status=StepStatus.FAILED,
                             output={"child_run": str(run.pk)},
                             error=error)
        audit_record(tenant=run.tenant, action="run.cancel_requested" if not ended else "run.cancelled",
                     actor=actor, target=run)
        _cancel_children(run, actor)
    run.refresh_from_db()
    return run


def _cancel_children(run: Run, actor: Actor) -> None:
    for child in Run.objects.filter(parent=run).exclude(status__in=FINISHED_STATUSES):
        run_cancel(run=child, actor=actor)


def run_retry(*, run: Run, actor: Actor) -> Run:
    """Run a failed run again from its journal: completed steps replay, the step that failed
    (the journal's last, when it failed) is removed so that it executes afresh."""
    with transaction.atomic():
        thread = thread_lock(run.thread_ref_id) if run.thread_ref_id else None  # before the run's row, as everywhere
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status != RunStatus.FAILED:
            raise RunError("not_retryable", f"only failed runs can be retried; run {run.pk} is {locked.status}")
        run_rollups_add(locked.pk, sign=-1)  # counted again when it ends again
        last = Step.objects.filter(run=locked).order_by("-seq").first()
        removed = None
        if last is not None and last.status == StepStatus.FAILED:
            removed = {"seq": last.seq, "kind": last.kind, "name": last.name, "error": last.error}
            last.delete()
        # A run of a thread waits its turn again if another run of the thread is active now.
        busy = thread is not None and thread_active_runs(thread.pk, exclude=locked.pk).exists()
        Run.objects.filter(pk=locked.pk).update(
            status=RunStatus.WAITING if busy else RunStatus.QUEUED,
            waiting_reason=WaitingReason.THREAD if busy else "", error=None, finished_at=None,
            cancel_requested=False, active_seconds=0, updated_at=timezone.now(), output_preview="",
        )
        if removed and removed["kind"] == StepKind.TOOL:
            store.run_tool_errors_add(run_id=locked.pk, count=-1)  # the call runs again: no longer an error
        audit_record(tenant=run.tenant, action="run.retried", actor=actor, target=run,
                     data={"previous_error": locked.error, "removed_step": removed})
        if not busy:
            run_enqueue(run.pk)
    run.refresh_from_db()
    return run


IN_DOUBT_ACTIONS = ("retry", "mark_done", "fail")


def step_resolve_in_doubt(*, run: Run, seq: int, action: str, actor: Actor, output=None) -> Step:
    """A person settles a tool call that may or may not have happened, and the run resumes.

    retry: call the tool again (same idempotency key); mark_done: treat it as done with `output`;
    fail: the call counts as failed and the workflow (the model) is told so.
    """
    if action not in IN_DOUBT_ACTIONS:
        raise RunError("invalid_action", f"action must be one of {', '.join(IN_DOUBT_ACTIONS)}")
    if action == "retry":
        resolution = {"status": StepStatus.STARTED, "error": {"resolution": "retry", "by": actor.label}}
    elif action == "mark_done":
        resolution = {"status": StepStatus.COMPLETED, "output": output}
    else:
        resolution = {"status": StepStatus.FAILED,
                      "error": {"code": "in_doubt_failed", "message": f"marked failed by {actor.label}"}}
    with transaction.atomic():
        step = Step.objects.filter(run=run, seq=seq).first()
        if step is None or not wait_deliver(run_id=run.pk, seq=seq, waiting=(StepStatus.IN_DOUBT,), **resolution):
            raise RunError("not_in_doubt", f"step #{seq} of run {run.pk} is not in doubt")
        if action == "fail":
            store.run_tool_errors_add(run_id=run.pk)
        audit_record(tenant=run.tenant, action=f"step.in_doubt_{action}", actor=actor, target=run,
                     data={"seq": seq, "tool": step.name, "output": output if action == "mark_done" else None})
    step.refresh_from_db()
    return step


def runs_recover_stranded(*, now=None) -> list:
    """Queue again the runs whose worker is gone: its lease expired, or it ran on this machine
    and its process is provably dead (runs.engine.lease.holder_is_dead), which needs no waiting
    for the lease. Each run is taken back with a compare-and-swap on its lease and queued in the
    same transaction, so of concurrent recoveries exactly one queues it. Returns their ids,
    oldest run first."""
    now = now or timezone.now()
    recovered = []
    for run_id, owner, expires_at in store.runs_held():
        if not (expires_at is None or expires_at < now or holder_is_dead(owner)):
            continue
        with transaction.atomic():
            if store.run_requeue_held(run_id=run_id, owner=owner, expires_at=expires_at, now=now):
                run_enqueue(run_id)
                recovered.append(run_id)
    return recovered


def recover(now=None) -> dict:
    """What must not wait for the minute's sweep: runs of dead workers, due timers, overdue
    waits (approvals), runs of a thread left waiting their turn with nothing active before them. Every worker process runs it every RUN_RECOVERY_INTERVAL_SECONDS
    (runs.recovery): each part is a few indexed reads when there is nothing to do, and each
    action a compare-and-swap, so concurrent recoveries do no harm."""
    now = now or timezone.now()
    stranded = runs_recover_stranded(now=now)
    due = list(Run.objects.filter(status=RunStatus.WAITING, waiting_reason=WaitingReason.TIMER, wake_at__lte=now)
               .values_list("pk", flat=True))
    # Timers fire through their own delayed task (waits.timer_schedule); these are the ones whose
    # broker cannot hold a task, or whose task was lost.
    fired = sum(timer_fire(run_id=run_id, now=now) for run_id in due)
    expired_waits = sum(kind.expire_due(now=now) for kind in wait_kinds())
    result = {"expired_leases": len(stranded), "timers": fired, "approvals_expired": expired_waits,
              "thread_turns": threads_wake_stranded()}
    if any(result.values()):
        logger.info("recover: %s", result)
    return result


def sweep(now=None) -> dict:
    """The periodic sweeper (once a minute): `recover`, then queued runs whose task was lost and
    stranded webhook deliveries.

    Every action is idempotent, so overlapping sweeps do no harm.
    """
    now = now or timezone.now()
    result = recover(now)
    stale = list(Run.objects.filter(status=RunStatus.QUEUED, updated_at__lt=now - timedelta(minutes=2))
                 .values_list("pk", flat=True))
    for run_id in stale:
        with transaction.atomic():
            Run.objects.filter(pk=run_id).update(updated_at=now)
            run_enqueue(run_id)
    result.update(requeued=len(stale), webhooks_queued=webhook_sweep(now=now))
    if result["requeued"] or result["webhooks_queued"]:
        logger.info("sweep: %s", result)
    return result


def budgets_set(*, tenant, actor: Actor, agents: list[dict] | None = None, **tenant_budgets) -> None:
    """Change the tenant's budgets (`daily_cost_limit`, `monthly_cost_limit`, `budget_policy`) and
    agents' limits (`agents`: [{"agent": slug, "daily_cost_limit"?, "monthly_cost_limit"?}]), in
    one transaction; each change audited with its before and after. Runs see the new budgets at
    their next model call (the services invalidate the configuration cache on commit)."""
    agents = agents or []
    with transaction.atomic():
        if tenant_budgets:
            tenant_update(tenant=tenant, actor=actor, **tenant_budgets)
        found = {agent.slug: agent for agent in Agent.objects.select_related("tenant").filter(
            tenant=tenant, slug__in=[item["agent"] for item in agents])}
        for item in agents:
            agent = found.get(item["agent"])
            if agent is None:
                raise RunError("unknown_agent", f"no agent {item['agent']!r} in tenant {tenant.slug}")
            agent_update(agent=agent, actor=actor, **{name: value for name, value in item.items() if name != "agent"})
