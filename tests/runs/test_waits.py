"""Waits: an outcome is delivered to the waiting step and wakes the run in one transaction; the
engine resumes from its journal, whoever delivered (a decision, a timer, a child run's end)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agentops.audit.services import Actor
from agentops.tenancy.principal import Principal
from approvals.models import ApprovalRequest
from approvals.services import ApprovalError, approval_decide
from runs.engine.lease import Lease
from runs.models import Run, RunStatus, Step, StepKind, StepStatus, WaitingReason
from runs.registry import workflow
from runs.services import run_cancel
from runs.waits import run_resume, timer_fire, wait_deliver
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@workflow("test_asks_for_approval")
def asks_for_approval(ctx, input):
    outcome = ctx.approval("Publish?", arguments={"title": input["title"]})
    return {"approved": outcome.approved, "arguments": outcome.arguments, "by": outcome.decided_by}


@workflow("test_child_echo")
def child_echo(ctx, input):
    if input.get("fail"):
        raise ValueError("the child could not do it")
    return {"echo": input["say"]}


@workflow("test_calls_a_child")
def calls_a_child(ctx, input):
    return {"child said": ctx.agent("child", input)}


@workflow("test_sleeps_an_hour")
def sleeps_an_hour(ctx, input):
    ctx.sleep(3600)
    return {"slept": True}


@pytest.fixture
def child_agent(tenant):
    return AgentFactory(tenant=tenant, slug="child", version__workflow="test_child_echo")


def approver_principal(approver, tenant):
    return Principal(tenant=tenant, user=approver, membership=approver.memberships.get(tenant=tenant))


def test_a_decision_is_delivered_to_the_step_and_queues_the_run(start_run, advance, approver, tenant):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))
    assert (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.APPROVAL)
    request = ApprovalRequest.objects.get(run=run)

    approval_decide(request_id=request.pk, user=approver, principal=approver_principal(approver, tenant),
                    verdict="approve", seen_hash=request.current_hash, arguments={"title": "Release notes v2"})

    step = Step.objects.get(run=run, kind=StepKind.APPROVAL)
    run.refresh_from_db()
    assert step.status == StepStatus.COMPLETED
    assert step.output["approved"] is True and step.output["arguments"] == {"title": "Release notes v2"}
    assert step.output["request"] == str(request.pk)
    assert run.status == RunStatus.QUEUED


def test_the_resumed_run_reads_the_outcome_from_its_journal_not_from_the_request(start_run, advance, approver,
                                                                                   tenant):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))
    request = ApprovalRequest.objects.get(run=run)
    approval_decide(request_id=request.pk, user=approver, principal=approver_principal(approver, tenant),
                    verdict="approve", seen_hash=request.current_hash)
    ApprovalRequest.objects.filter(pk=request.pk).delete()  # nothing left to read but the journal

    run = advance(run)

    assert run.status == RunStatus.SUCCEEDED
    assert run.output == {"approved": True, "arguments": {"title": "Release notes"}, "by": approver.username}


def test_a_run_woken_before_the_decision_waits_again(start_run, advance):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))

    run_resume(run_id=run.pk)
    run = advance(run)

    assert (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.APPROVAL)
    assert ApprovalRequest.objects.filter(run=run).count() == 1
    assert Step.objects.get(run=run, kind=StepKind.APPROVAL).status == StepStatus.WAITING


def test_a_wait_is_resolved_once(start_run, advance, approver, tenant):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))
    seq = Step.objects.get(run=run, kind=StepKind.APPROVAL).seq

    first = wait_deliver(run_id=run.pk, seq=seq, output={"approved": False, "status": "rejected"})
    second = wait_deliver(run_id=run.pk, seq=seq, output={"approved": True, "status": "approved"})

    assert (first, second) == (True, False)
    assert Step.objects.get(run=run, seq=seq).output == {"approved": False, "status": "rejected"}


def test_a_delivery_that_fails_leaves_the_step_waiting_and_the_run_parked(start_run, advance, approver, tenant):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))
    request = ApprovalRequest.objects.get(run=run)

    with pytest.raises(ApprovalError):
        approval_decide(request_id=request.pk, user=approver, principal=approver_principal(approver, tenant),
                        verdict="reject", seen_hash=request.current_hash, comment="")

    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert Step.objects.get(run=run, kind=StepKind.APPROVAL).status == StepStatus.WAITING


def test_a_child_run_s_end_is_delivered_to_its_parent(start_run, advance, child_agent):
    parent = advance(start_run("test_calls_a_child", {"say": "hello"}))
    assert (parent.status, parent.waiting_reason) == (RunStatus.WAITING, WaitingReason.CHILD)
    child = advance(Run.objects.get(parent=parent))
    assert child.status == RunStatus.SUCCEEDED

    parent.refresh_from_db()
    step = Step.objects.get(run=parent, kind=StepKind.CHILD)
    assert parent.status == RunStatus.QUEUED
    assert (step.status, step.output) == (StepStatus.COMPLETED, {"child_run": str(child.pk), "output": {"echo": "hello"}})
    assert advance(parent).output == {"child said": {"echo": "hello"}}


def test_a_failed_child_fails_the_parent_s_step(start_run, advance, child_agent):
    parent = advance(start_run("test_calls_a_child", {"fail": True}))
    advance(Run.objects.get(parent=parent))

    step = Step.objects.get(run=parent, kind=StepKind.CHILD)
    parent = advance(parent)

    assert step.status == StepStatus.FAILED and "could not do it" in step.error["message"]
    assert parent.status == RunStatus.FAILED and "could not do it" in parent.error["message"]


def test_cancelling_a_child_tells_its_waiting_parent(start_run, advance, child_agent, operator):
    parent = advance(start_run("test_calls_a_child", {"say": "hello"}))
    child = Run.objects.get(parent=parent)

    run_cancel(run=child, actor=Actor.for_user(operator))

    step = Step.objects.get(run=parent, kind=StepKind.CHILD)
    assert (step.status, step.error["code"]) == (StepStatus.FAILED, "cancelled")
    assert advance(parent).status == RunStatus.FAILED


def test_a_timer_is_delivered_only_when_due(start_run, advance):
    run = advance(start_run("test_sleeps_an_hour"))

    assert timer_fire(run_id=run.pk) is False
    assert timer_fire(run_id=run.pk, now=timezone.now() + timedelta(hours=2)) is True

    step = Step.objects.get(run=run, kind=StepKind.SLEEP)
    assert step.status == StepStatus.COMPLETED and "fired_at" in step.output
    assert advance(run).output == {"slept": True}


def test_an_outcome_delivered_while_the_run_decides_to_wait_again_wakes_it(start_run, advance, monkeypatch):
    run = advance(start_run("test_asks_for_approval", {"title": "Release notes"}))
    seq = Step.objects.get(run=run, kind=StepKind.APPROVAL).seq
    run_resume(run_id=run.pk)  # woken early: the next execution finds the step still waiting
    check = Lease.check

    def deliver_meanwhile(lease):  # the decision lands after the journal was read, before the run parks
        wait_deliver(run_id=run.pk, seq=seq, output={"approved": True, "arguments": {"title": "Release notes"},
                                                     "comment": "", "decided_by": "arthur", "status": "approved"})
        check(lease)

    monkeypatch.setattr(Lease, "check", deliver_meanwhile)
    run = advance(run)
    monkeypatch.undo()

    assert run.status == RunStatus.QUEUED
    assert advance(run).output == {"approved": True, "arguments": {"title": "Release notes"}, "by": "arthur"}
