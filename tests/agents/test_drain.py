"""`manage.py agents drain`: new runs may not pin an old version; runs already on it finish on it."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from agentops.agents.models import AgentVersion
from agentops.agents.services import agent_version_create
from agentops.audit.services import Actor
from runs.models import Run, RunStatus, WaitingReason
from tests.factories import AgentFactory
from tests.support.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture
def support(tenant):
    """An agent whose version 1 sleeps (test_sleep) and whose current version 2 answers (demo)."""
    agent = AgentFactory(tenant=tenant, slug="support", version__workflow="test_sleep")
    agent_version_create(agent=agent, config={**agent.current_version.config(), "workflow": "agent_loop"}, actor=ACTOR)
    return agent


def agents(*args) -> str:
    out = StringIO()
    call_command("agents", *args, stdout=out)
    return out.getvalue()


def start(api, version=None):
    body = {"agent": "support", "input": {"seconds": 3600, "message": "hi"}}
    return api.post("/api/v1/runs/", body if version is None else {**body, "version": version}, format="json")


def test_a_drained_version_refuses_new_runs_pinned_to_it_and_only_those(api, support):
    agents("drain", "support", "--version", "1")

    refused, pinned_current, default = start(api, 1), start(api, 2), start(api)

    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "agent_version_drained", "details": None,
        "message": "version 1 of 'support' is drained: new runs may not pin it; start them on the current version (2)"}
    assert pinned_current.status_code == default.status_code == 201
    assert not Run.objects.filter(agent_version__number=1).exists()


def test_the_current_version_cannot_be_drained(support):
    with pytest.raises(CommandError, match="version 2 is support's current version: new runs start on it"):
        agents("drain", "support", "--version", "2")

    assert not AgentVersion.objects.filter(agent=support, drained=True).exists()


def test_drain_reports_the_runs_still_on_the_version(api, support):
    waiting = [Run.objects.get(pk=start(api, 1).json()["id"]) for _ in range(2)]
    Run.objects.filter(pk=waiting[1].pk).update(status=RunStatus.SUCCEEDED)

    report = agents("drain", "support", "--version", "1")

    assert "acme/support version 1 drained: new runs may not pin it." in report
    assert "Runs on it: queued 1, succeeded 1" in report
    assert f"Unfinished (1; they finish on version 1):\n  {waiting[0].pk}" in report


def test_undrain_lets_new_runs_pin_the_version_again(api, support, audited):
    agents("drain", "support", "--version", "1")

    agents("undrain", "support", "--version", "1")

    assert start(api, 1).status_code == 201
    assert [event["version"] for event in audited("agent.version_drained") + audited("agent.version_undrained")] == [1, 1]


def test_another_tenants_agent_of_the_same_slug_is_not_drained(api, support, other_tenant):
    AgentFactory(tenant=other_tenant, slug="support")

    with pytest.raises(CommandError, match="Several tenants have an agent 'support': name one with --tenant"):
        agents("drain", "support", "--version", "1")
    agents("drain", "support", "--version", "1", "--tenant", "acme")

    assert list(AgentVersion.objects.filter(drained=True).values_list("agent__tenant__slug", "number")) == [("acme", 1)]


@pytest.mark.parametrize("args, message", [
    (["nobody", "--version", "1"], "No agent 'nobody'"),
    (["support", "--version", "9"], "agent 'support' has no version 9"),
])
def test_bad_arguments_are_refused_with_a_readable_message(support, args, message):
    with pytest.raises(CommandError, match=message):
        agents("drain", *args)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker cannot hold a task until a time")
def test_a_run_in_flight_finishes_on_the_version_it_started_with(api, tenant):
    agent = AgentFactory(tenant=tenant, slug="support", version__workflow="test_sleep")
    Schedule.objects.all().delete()
    with running_worker(RUN_INLINE_SLEEP_SECONDS="0.2", RUN_RECOVERY_INTERVAL_SECONDS="0") as worker:
        run_id = api.post("/api/v1/runs/", {"agent": "support", "input": {"seconds": 2}}, format="json").json()["id"]
        wait_for(lambda: Run.objects.get(pk=run_id).waiting_reason == WaitingReason.TIMER, timeout=60,
                 message=f"the run to park on its timer\n{worker.output()}")
        # A deploy: version 2 becomes current and version 1 is drained while the run sleeps.
        agent_version_create(agent=agent, config={**agent.current_version.config(), "workflow": "agent_loop"},
                             actor=ACTOR)
        agents("drain", "support", "--version", "1")
        wait_for(lambda: Run.objects.get(pk=run_id).status == RunStatus.SUCCEEDED, timeout=60,
                 message=f"the run to finish\n{worker.output()}")

    run = Run.objects.select_related("agent_version").get(pk=run_id)
    assert run.agent_version.number == 1 and run.workflow == "test_sleep" and "woke_at" in run.output
    assert start(api, 1).json()["error"]["code"] == "agent_version_drained"
