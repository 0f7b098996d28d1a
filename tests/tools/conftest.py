import itertools

import pytest

from agentops import config_cache
from agentops.audit.services import Actor
from agentops.secrets.services import secret_set
from runs.models import Run
from tests.factories import AgentFactory
from tests.support.tool_servers import ScriptedHTTPServer
from tools.services import tool_create

ACTOR = Actor.system("test")
TOKEN = "tok-9d41be07c3"  # the value of the test secret TOOLS_TEST_TOKEN

_agents = itertools.count(1)


@pytest.fixture
def secret_token(tenant):
    """TOOLS_TEST_TOKEN among `tenant`'s secrets, where the gateway resolves its tools' references."""
    secret_set(tenant=tenant, name="TOOLS_TEST_TOKEN", value=TOKEN, actor=ACTOR)
    return TOKEN


@pytest.fixture
def http_server(allow_outbound):
    """A local HTTP server tenant tools may reach in this test."""
    with ScriptedHTTPServer() as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture
def make_tool(tenant):
    """make_tool("crm.ping", tenant=None, **fields) → a tool created through the service (http by default)."""

    def make(name: str, *, tenant=tenant, kind: str = "http", **fields):
        fields.setdefault("description", f"The {name} tool.")
        fields.setdefault("config", {"url": "http://tools.invalid/unused"})
        fields.setdefault("input_schema", {"type": "object", "properties": {}})
        return tool_create(tenant=tenant, name=name, kind=kind, actor=ACTOR, **fields)

    return make


@pytest.fixture
def make_run(tenant):
    """make_run(user, tools=[...], tenant=..., on_behalf_of=...) → a run of a fresh agent granted `tools`."""

    def make(user, *, tools=(), tenant=tenant, on_behalf_of=None):
        agent = AgentFactory(tenant=tenant, slug=f"tools-agent-{next(_agents)}", version__tools=list(tools))
        return Run.objects.create(tenant=tenant, agent=agent, agent_version=agent.current_version,
                                  workflow="agent_loop", created_by=user, on_behalf_of=on_behalf_of)

    return make


@pytest.fixture
def cache_after_commit(settings, django_capture_on_commit_callbacks):
    """cache_after_commit(write) → whether a value cached after `write()` ran but before its
    transaction committed is still cached once the commit's callbacks have run."""
    settings.CONFIG_CACHE_SECONDS = 60

    def check(write) -> bool:
        with django_capture_on_commit_callbacks() as callbacks:
            write()
        config_cache.cached(("probe",), lambda: "cached before the commit")
        for callback in callbacks:
            callback()
        return config_cache.cached(("probe",), lambda: "loaded again") == "cached before the commit"

    return check
