"""`ctx.agent`: another agent of the tenant as a child run; the parent waits for its end.

The child's end is delivered to the parent's waiting step (runs.waits.wait_deliver) in the
transaction that records it, so the parent resumes with the child's output in its journal.
"""

from __future__ import annotations

from agentops.agents.models import Agent

from ...errors import ChildRunFailed, RunFailure
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
        raise ChildRunFailed(recorded.output.get("child_run"), recorded.error, "failed")
    if recorded is None:
        wait_begin(journal, seq, StepKind.CHILD, slug, WaitingReason.CHILD, input=input,
                   open=lambda: {"child_run": str(_child_create(ctx.run, seq, slug, input).pk)})
    # Woken without a delivery (a run resumed by hand): look at the child itself.
    child = Run.objects.get(pk=recorded.output["child_run"])
    if not child.is_finished:
        suspend(journal, WaitingReason.CHILD)
    if child.status == RunStatus.SUCCEEDED:
        journal.update(recorded, status=StepStatus.COMPLETED, output={"child_run": str(child.pk), "output": child.output})
        return child.output
    journal.update(recorded, status=StepStatus.FAILED, error=child.error or {"message": child.status})
    raise ChildRunFailed(str(child.pk), child.error, child.status)


def _child_create(parent: Run, seq: int, slug: str, input: dict) -> Run:
    """The child run, queued in the parent's transaction; it acts for the same user."""
    agent = Agent.objects.select_related("current_version").filter(tenant_id=parent.tenant_id, slug=slug).first()
    if agent is None or agent.current_version is None:
        raise RunFailure("unknown_agent", f"no agent {slug!r} in this tenant for a child run")
    child = Run.objects.create(
        tenant_id=parent.tenant_id, agent=agent, agent_version=agent.current_version,
        workflow=agent.current_version.workflow, input=input, input_preview=input_preview(input),
        thread=parent.thread,
        created_by=parent.created_by, api_key=parent.api_key, on_behalf_of=parent.on_behalf_of,
        parent=parent, parent_step_seq=seq,
    )
    run_enqueue(child.pk)
    return child
