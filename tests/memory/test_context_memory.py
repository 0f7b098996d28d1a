"""ctx.recall and ctx.remember in a workflow of one's own: journaled memory steps, replayed not
repeated, checked against the agent version's memory policy."""

import pytest
from django.utils import timezone

from agentops.memory.models import MemoryItem
from runs.models import RunStatus, Step, StepKind
from runs.registry import workflow
from runs.waits import run_resume
from tests.factories import AgentFactory

from .threads_support import execute, memory_steps

pytestmark = pytest.mark.django_db

POLICY = {"read": ["user", "agent"], "write": ["user", "agent"], "recall": 0, "extract": False}


@workflow("test_remember_then_wait")
def remember_then_wait(ctx, input):
    stored = ctx.remember(input["content"], kind="preference", scope=input.get("scope", "user"))
    ctx.sleep(3600)
    return {"id": stored["id"], "found": [item["content"] for item in ctx.recall(input["content"])]}


@workflow("test_recall_scopes")
def recall_scopes(ctx, input):
    return {"found": ctx.recall("anything", scopes=input["scopes"])}


def start(tenant, say, workflow_name, input, memory=POLICY):
    agent = AgentFactory(tenant=tenant, slug=workflow_name.replace("_", "-"), version__workflow=workflow_name,
                         version__memory=memory)
    run = say(agent, "unused", thread="")
    run.input = input
    run.save(update_fields=["input"])
    return run


def wake(run):
    Step.objects.filter(run=run, kind=StepKind.SLEEP).update(output={"wake_at": timezone.now().isoformat()})
    run_resume(run_id=run.pk)


def test_remember_stores_once_with_the_step_as_provenance_and_replays(tenant, operator, say):
    run = start(tenant, say, "test_remember_then_wait", {"content": "Prefers tea"})
    assert execute(run).status == RunStatus.WAITING
    wake(run)

    run = execute(run)

    item = MemoryItem.objects.get()
    remember_step = memory_steps(run)[0]
    assert (remember_step.name, item.source_run, item.source_step) == ("memory.remember", run.pk, remember_step.seq)
    assert (item.scope, item.subject, item.kind) == ("user", operator.username, "preference")
    assert run.output == {"id": item.pk, "found": ["Prefers tea"]}
    assert [step.name for step in memory_steps(run)] == ["memory.remember", "memory.recall"]  # not written twice


def test_remember_in_a_scope_the_policy_does_not_write_fails_the_run_and_stores_nothing(tenant, say):
    run = start(tenant, say, "test_remember_then_wait", {"content": "Prefers tea", "scope": "tenant"})

    run = execute(run)

    assert run.status == RunStatus.FAILED and run.error["code"] == "memory_scope_refused"
    assert not MemoryItem.objects.exists() and memory_steps(run) == []


def test_the_agent_scope_is_the_agents_slug(tenant, say):
    run = start(tenant, say, "test_remember_then_wait", {"content": "Escalate refunds over $500", "scope": "agent"})

    execute(run)

    assert MemoryItem.objects.get().subject == "test-remember-then-wait"


def test_recall_from_a_scope_the_policy_does_not_read_fails_the_run(tenant, say):
    run = start(tenant, say, "test_recall_scopes", {"scopes": ["tenant"]})

    run = execute(run)

    assert run.status == RunStatus.FAILED and "reading the tenant scope" in run.error["message"]


def test_recall_can_narrow_the_policys_scopes(tenant, operator, say):
    run = start(tenant, say, "test_recall_scopes", {"scopes": ["agent"]})

    run = execute(run)

    assert memory_steps(run)[0].output["scopes"] == [["agent", "test-recall-scopes"]]


def test_a_run_without_a_user_has_no_user_memory(tenant, say):
    run = start(tenant, say, "test_remember_then_wait", {"content": "Prefers tea"})
    run.created_by = None
    run.save(update_fields=["created_by"])

    run = execute(run)

    assert run.error["code"] == "memory_scope_refused" and "acts for no user" in run.error["message"]
