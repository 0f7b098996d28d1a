import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.models import Run
from runs.services import run_create
from tests.factories import AgentFactory
from tests.support.openai_server import OpenAIServer


@pytest.fixture
def principal(operator, tenant):
    return Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator, tenant=tenant))


@pytest.fixture
def openai_server(settings):
    """A local OpenAI-compatible server that runs of provider "openai" call (and that records them)."""
    with OpenAIServer() as server:
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_API_KEY = "sk-local-test"
        yield server


@pytest.fixture
def start_run(principal, tenant):
    """start_run(workflow="name", input={...}, **version_config) → a queued run of a fresh agent."""
    counter = {"n": 0}

    def make(workflow: str = "agent_loop", input: dict | None = None, **version):
        counter["n"] += 1
        agent = AgentFactory(tenant=tenant, slug=f"wf-{counter['n']}", version__workflow=workflow, **{
            f"version__{k}": v for k, v in version.items()})
        run, _ = run_create(principal=principal, agent_slug=agent.slug, input=input or {})
        return run

    return make


@pytest.fixture
def advance():
    """advance(run) → execute it in this process as a worker would; returns the refreshed run."""

    def go(run: Run) -> Run:
        execute_run(run.pk)
        run.refresh_from_db()
        return run

    return go


@pytest.fixture
def long_run(api, tenant):
    """A finished run of 1,000 steps written by the engine: 500 model calls of one growing
    conversation, each followed by a read step."""
    AgentFactory(tenant=tenant, slug="counter", version__provider="scripted",
                 version__workflow="test_long_conversation", version__provider_config={"responses": []},
                 version__max_steps=1000)
    run_id = api.post("/api/v1/runs/", {"agent": "counter", "input": {"rounds": 500, "padding": "x" * 200}},
                      format="json").json()["id"]
    execute_run(run_id)
    return run_id
