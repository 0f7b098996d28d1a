"""`ctx.agent`: another agent of the tenant as a child run; the parent waits for its end.

The child's end is delivered to the parent's waiting step (runs.waits.wait_deliver) in the
transaction that records it, so the parent resumes with the child's output in its journal.

Before the child is created the rules are checked: the child agent must be open to the user who
started the run (`agent_restricted`), its workflow among those the parent's version may start
(`child_workflow_not_allowed`), and the new run no deeper below any ancestor than that ancestor's
version allows (`child_depth_exceeded`). A refusal is a failed step and a `run.refused` audit
event, written together; it raises `ChildRunRefused`, which fails the run with its code unless the
workflow catches it.
"""

from __future__ import annotations

from django.db import transaction

from agentops.agents.errors import AgentRestricted
from agentops.agents.models import Agent
from agentops.agents.selectors import user_may_start_agent
from agentops.audit.services import Actor, audit_record

from ...errors import ChildRunFailed, ChildRunRefused, RunFailure
from ...models import Run, RunStatus, StepKind, StepStatus, WaitingReason
from ...preview import input_preview
from ...waits import run_enqueue
from ..parking import suspend, wait_begin


def child_run(ctx, slug: str, input: dict):
    journal = ctx.journal
    seq, recorded = journal.next(StepKind.CHILD, slug)
    if recorded is not None and recorded.status == StepStatus.COMPLETED:
        return recorded.output.get("output")
    if recorded is not None and recorded.status == StepStatus.FAILED:
        child_id = (recorded.output or {}).get("child_run")
        if child_id is None:  # refused: no child was created
            raise ChildRunRefused(recorded.error["code"], recorded.error["message"])
        raise ChildRunFailed(child_id, recorded.error, "failed")
    if recorded is None:
        agent = _child_agent(ctx.run, slug)
        _check_rules(ctx, seq, slug, input, agent)
        wait_begin(journal, seq, StepKind.CHILD, slug, WaitingReason.CHILD, input=input,
                   open=lambda: {"child_run": str(_child_create(ctx.run, seq, agent, input).pk)})
    # Woken without a delivery (a run resumed by hand): look at the child itself.
    child = Run.objects.get(pk=recorded.output["child_run"])
    if not child.is_finished:
        suspend(journal, WaitingReason.CHILD)
    if child.status == RunStatus.SUCCEEDED:
        journal.update(recorded, status=StepStatus.COMPLETED, output={"child_run": str(child.pk), "output": child.output})
        return child.output
    journal.update(recorded, status=StepStatus.FAILED, error=child.error or {"message": child.status})
    raise ChildRunFailed(str(child.pk), child.error, child.status)


def _child_agent(parent: Run, slug: str) -> Agent:
    agent = Agent.objects.select_related("current_version").filter(tenant_id=parent.tenant_id, slug=slug).first()
    if agent is None or agent.current_version is None:
        raise RunFailure("unknown_agent", f"no agent {slug!r} in this tenant for a child run")
    return agent


def _check_rules(ctx, seq: int, slug: str, input: dict, agent: Agent) -> None:
    parent = ctx.run
    refusal = None
    if not user_may_start_agent(user=parent.created_by, agent=agent):
        refusal = AgentRestricted(parent.created_by, agent)
    elif _workflow_refused(parent, agent.current_version.workflow):
        refusal = ChildRunRefused("child_workflow_not_allowed",
                                  f"{_version(parent)} may not start the workflow "
                                  f"{agent.current_version.workflow!r} of {slug} as a child run (it may start: "
                                  f"{', '.join(parent.agent_version.child_workflows)})")
    else:
        refusal = _depth_refusal(parent)
    if refusal is not None:
        _refuse(ctx, seq, slug, input, refusal)


def _workflow_refused(parent: Run, workflow: str) -> bool:
    allowed = parent.agent_version.child_workflows
    return bool(allowed) and workflow not in allowed


def _depth_refusal(parent: Run) -> ChildRunRefused | None:
    """The new child is one level below `parent`, two below its parent, ...: refused when that is
    deeper than the `max_child_depth` of the version of any of them."""
    run, depth = parent, 1
    while True:
        limit = run.agent_version.max_child_depth
        if depth > limit:
            return ChildRunRefused("child_depth_exceeded",
                                   f"a child run here would be {depth} level(s) below run {run.pk}, whose version "
                                   f"{_version(run)} allows {limit}")
        if run.parent_id is None:
            return None
        run = Run.objects.select_related("agent", "agent_version").get(pk=run.parent_id, tenant_id=parent.tenant_id)
        depth += 1


def _version(run: Run) -> str:
    return f"{run.agent.slug} v{run.agent_version.number}"


def _refuse(ctx, seq: int, slug: str, input: dict, refusal) -> None:
    error = {"code": refusal.code, "message": refusal.message}
    with transaction.atomic():
        ctx.journal.insert(seq, StepKind.CHILD, slug, StepStatus.FAILED, input=input, error=error)
        audit_record(tenant=ctx.tenant, action="run.refused", actor=Actor.for_run(ctx.run), target=ctx.run,
                     data={"agent": slug, "parent_run": str(ctx.run.pk), "seq": seq, **error})
    raise ChildRunRefused(refusal.code, refusal.message)


def _child_create(parent: Run, seq: int, agent: Agent, input: dict) -> Run:
    """The child run, queued in the parent's transaction; it acts for the same user."""
    child = Run.objects.create(
        tenant_id=parent.tenant_id, agent=agent, agent_version=agent.current_version,
        workflow=agent.current_version.workflow, input=input, input_preview=input_preview(input),
        thread=parent.thread,
        created_by=parent.created_by, api_key=parent.api_key, on_behalf_of=parent.on_behalf_of,
        parent=parent, parent_step_seq=seq,
    )
    run_enqueue(child.pk)
    return child
