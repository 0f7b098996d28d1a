"""Child runs keep the rules: the child agent must be open to whoever started the run, its
workflow among those the parent's version may start, and no run deeper below an ancestor than the
ancestor's version allows. A refusal fails the child step with its code, creates no child and is
audited; uncaught, it fails the run with that code."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agentops.agents.services import agent_access_set
from agentops.audit.services import Actor
from agentops.tenancy.roles import Role
from runs.engine import execute_run
from runs.errors import ChildRunRefused
from runs.models import Run, RunStatus, Step, StepKind, StepStatus
from runs.registry import workflow
from runs.waits import timer_fire
from tests.factories import AgentFactory


pytestmark = pytest.mark.django_db

ADMIN = Actor.system("test")


@workflow("rules_echo")
def echo(ctx, input):
    return {"echo": input.get("say")}


@workflow("rules_calls_child")
def calls_child(ctx, input):
    return {"child": ctx.agent(input["child"], {"say": "hi", "levels": 3})}


@workflow("rules_recurses")
def recurses(ctx, input):
    """Starts itself as a child, `input["levels"]` times down."""
    if input["levels"] == 0:
        return {"bottom": True}
    return ctx.agent(ctx.run.agent.slug, {"levels": input["levels"] - 1})


@workflow("rules_catches_refusal")
def catches_refusal(ctx, input):
    try:
        ctx.agent(input["child"], {})
    except ChildRunRefused as refusal:
        code = refusal.code
    ctx.sleep(3600)  # parks: the refusal is read from the journal on resume
    return {"refused": code}


def finish(run: Run) -> Run:
    """Execute `run` and every run it waits for, as workers would, until it ends."""
    for _ in range(20):
        run.refresh_from_db()
        if run.is_finished:
            return run
        for queued in Run.objects.filter(status=RunStatus.QUEUED).order_by("created_at"):
            execute_run(queued.pk)
    raise AssertionError(f"{run} did not finish")


def child_step(run: Run) -> Step:
    return Step.objects.get(run=run, kind=StepKind.CHILD)


def test_a_child_agent_restricted_to_other_users_is_refused(start_run, tenant, member, audited):
    child = AgentFactory(tenant=tenant, slug="vip", version__workflow="rules_echo")
    agent_access_set(agent=child, restricted=True, users=[member("rita", Role.OPERATOR)], groups=[], actor=ADMIN)

    run = finish(start_run("rules_calls_child", {"child": "vip"}))

    assert run.status == RunStatus.FAILED and run.error["code"] == "agent_restricted"
    step = child_step(run)
    assert step.status == StepStatus.FAILED and step.error["code"] == "agent_restricted"
    assert Run.objects.filter(parent=run).count() == 0
    [event] = audited("run.refused")
    assert event["code"] == "agent_restricted" and event["parent_run"] == str(run.pk)


def test_a_child_agent_open_to_the_starter_runs(start_run, tenant, operator):
    child = AgentFactory(tenant=tenant, slug="vip", version__workflow="rules_echo")
    agent_access_set(agent=child, restricted=True, users=[operator], groups=[], actor=ADMIN)

    run = finish(start_run("rules_calls_child", {"child": "vip"}))

    assert run.status == RunStatus.SUCCEEDED and run.output == {"child": {"echo": "hi"}}


def test_a_workflow_outside_the_versions_child_workflows_is_refused(start_run, tenant, audited):
    AgentFactory(tenant=tenant, slug="helper", version__workflow="rules_echo")

    run = finish(start_run("rules_calls_child", {"child": "helper"}, child_workflows=["agent_loop"]))

    assert run.error["code"] == "child_workflow_not_allowed"
    assert child_step(run).error["code"] == "child_workflow_not_allowed"
    assert "'rules_echo' of helper" in child_step(run).error["message"]
    assert not Run.objects.filter(parent=run).exists()
    assert [e["code"] for e in audited("run.refused")] == ["child_workflow_not_allowed"]


def test_a_workflow_named_in_child_workflows_runs(start_run, tenant):
    AgentFactory(tenant=tenant, slug="helper", version__workflow="rules_echo")

    run = finish(start_run("rules_calls_child", {"child": "helper"}, child_workflows=["rules_echo"]))

    assert run.status == RunStatus.SUCCEEDED


def test_children_nest_as_deep_as_the_version_allows(start_run):
    run = finish(start_run("rules_recurses", {"levels": 2}, max_child_depth=2))

    assert run.status == RunStatus.SUCCEEDED and run.output == {"bottom": True}
    assert Run.objects.count() == 3


def test_one_level_deeper_is_refused_at_the_deepest_child(start_run, audited):
    run = finish(start_run("rules_recurses", {"levels": 3}, max_child_depth=2))

    deepest = Run.objects.get(parent__parent=run)
    assert child_step(deepest).error["code"] == "child_depth_exceeded"
    assert not Run.objects.filter(parent=deepest).exists()
    assert run.status == RunStatus.FAILED  # the failure travels up through each parent
    [event] = audited("run.refused")
    assert event["code"] == "child_depth_exceeded" and event["parent_run"] == str(deepest.pk)


def test_an_ancestors_limit_binds_children_of_agents_that_allow_more(start_run, tenant):
    AgentFactory(tenant=tenant, slug="deep", version__workflow="rules_recurses", version__max_child_depth=5)

    run = finish(start_run("rules_calls_child", {"child": "deep"}, max_child_depth=1))

    child = Run.objects.get(parent=run)
    assert child_step(child).error["code"] == "child_depth_exceeded"
    assert "below run" in child_step(child).error["message"] and str(run.pk) in child_step(child).error["message"]


def test_a_max_child_depth_of_zero_allows_no_child(start_run, tenant):
    AgentFactory(tenant=tenant, slug="helper", version__workflow="rules_echo")

    run = finish(start_run("rules_calls_child", {"child": "helper"}, max_child_depth=0))

    assert run.error["code"] == "child_depth_exceeded" and not Run.objects.filter(parent=run).exists()


def test_a_workflow_catches_a_refusal_and_reads_it_again_from_its_journal(start_run, tenant):
    AgentFactory(tenant=tenant, slug="helper", version__workflow="rules_echo")
    run = finish_until_waiting(start_run("rules_catches_refusal", {"child": "helper"}, max_child_depth=0))

    timer_fire(run_id=run.pk, now=timezone.now() + timedelta(hours=2))
    run = finish(run)

    assert run.status == RunStatus.SUCCEEDED and run.output == {"refused": "child_depth_exceeded"}
    assert Step.objects.filter(run=run, kind=StepKind.CHILD).count() == 1


def finish_until_waiting(run: Run) -> Run:
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    return run
