"""Fixtures of the thread and memory-use tests: agents run through the local OpenAI-compatible
server, runs started as the API would start them."""

import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.models import Run
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
