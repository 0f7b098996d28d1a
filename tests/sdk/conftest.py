"""The Python SDK (sdk/python) against the real app: pytest-django's live server (the project's
WSGI app in a thread of this process, on a real port), or daphne serving its ASGI app where runs
are streamed live, and, where runs must execute, a real django-q2 worker process on the test
database."""

import contextlib

import pytest
from agentops_client import AgentOps, AsyncAgentOps
from django.conf import settings

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from agentops.webhooks.services import webhook_delivery_attempt, webhook_emit
from runs.services import run_create
from tests.factories import AgentFactory
from tests.support.event_stream import web_server
from tests.support.workers import Worker
from tests.webhooks.conftest import hook_for, receiver  # noqa: F401 (fixtures `delivered` uses)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    """One qcluster for the module's tests (each test's rows are its own: the database is emptied
    between them). Killed at the end rather than stopped: nothing is left for it to finish, and a
    graceful stop waits out its poll loop (about 15 s)."""
    process = Worker().start()
    try:
        yield process
    finally:
        process.kill()


@pytest.fixture(scope="module")
def web(django_db_setup, worker):
    """daphne serving the project's ASGI app on the test database, for the module's tests, with
    its worker (and Redis when the suite runs with it). `web.base` is its URL."""
    with web_server(settings.REDIS_URL or None) as server:
        yield server


@pytest.fixture
def helper(tenant):
    """An agent on the offline demo model with no tools: it answers at once."""
    return AgentFactory(tenant=tenant, slug="helper")


@pytest.fixture
def gatekeeper(tenant):
    """An agent whose workflow waits for an approval, then returns the decision."""
    return AgentFactory(tenant=tenant, slug="gatekeeper", version__workflow="test_decision")


@pytest.fixture
def key(operator, tenant, api_key_for):
    return api_key_for(operator, tenant)


@pytest.fixture
def approver_key(approver, tenant, api_key_for):
    return api_key_for(approver, tenant, scopes=("read", "approvals:write"))


@pytest.fixture
def sdk(live_server, key):
    """sdk(key=..., base_url=..., **options) → an AgentOps client of the live server (the
    operator's key by default); closed after the test."""
    with contextlib.ExitStack() as stack:
        def make(key=key, base_url=live_server.url, **options):
            return stack.enter_context(AgentOps(api_key=key, base_url=base_url, **options))

        yield make


@pytest.fixture
def async_sdk(live_server, key):
    """The async twin of `sdk`; closed by `async with` in the test."""

    def make(key=key, base_url=live_server.url, **options):
        return AsyncAgentOps(api_key=key, base_url=base_url, **options)

    return make


@pytest.fixture
def viewer_key(member, tenant, api_key_for):
    return api_key_for(member("vera", Role.VIEWER), tenant, scopes=("read",))


@pytest.fixture
def start_runs(operator, tenant):
    """start_runs(n, agent="helper", input=...) → the ids of n runs created one after the other."""
    principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator, tenant=tenant))

    def make(n, agent="helper", input=None):
        return [str(run_create(principal=principal, agent_slug=agent, input=input or {"message": f"run {i}"})[0].pk)
                for i in range(n)]

    return make


@pytest.fixture
def delivered(tenant, hook_for, receiver):  # noqa: F811
    """The request the receiver got for one `approval.requested` event."""
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7, "title": "Refund €80"})
    webhook_delivery_attempt(delivery_id=delivery.pk)
    [request] = receiver.requests
    return request
