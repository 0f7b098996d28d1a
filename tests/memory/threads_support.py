"""Fixtures shared by the thread and memory-use tests: agents run through the local
OpenAI-compatible server, and runs started and executed in this process."""

import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.models import Run, Step, StepKind
from runs.services import run_create
from tests.support.openai_server import OpenAIServer


@pytest.fixture
def openai_server(settings):
    with OpenAIServer() as server:
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_API_KEY = "sk-local-test"
        yield server


@pytest.fixture
def principal_of():
    """principal_of(user, tenant) → the Principal the API would make for them."""
    return lambda user, tenant: Principal(tenant=tenant, user=user,
                                          membership=Membership.objects.get(user=user, tenant=tenant))


@pytest.fixture
def say(operator, tenant, principal_of):
    """say(agent, "message", thread="t1", as_user=None) → the run, created (not executed)."""

    def start(agent, message: str, *, thread: str = "t1", as_user=None, **kwargs) -> Run:
        principal = principal_of(as_user or operator, tenant)
        run, _ = run_create(principal=principal, agent_slug=agent.slug, input={"message": message}, thread=thread,
                            **kwargs)
        return run

    return start


def execute(run: Run) -> Run:
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def model_messages(request) -> list[dict]:
    """The messages a chat request recorded by the local server sent."""
    return request.body["messages"]


def memory_steps(run: Run) -> list[Step]:
    return list(Step.objects.filter(run=run, kind=StepKind.MEMORY).order_by("seq"))
