import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from rest_framework.test import APIClient

from agentops import config_cache
from agentops.audit.services import Actor
from agentops.outbound import url_host_port
from agentops.tenancy.roles import Role
from agentops.tenancy.services import api_key_create
from tests.factories import AgentFactory, MembershipFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_config_cache():
    """Each test starts with an empty configuration cache (the database under it is new)."""
    config_cache.clear()


@pytest.fixture(autouse=True)
def empty_redis_task_queue():
    """Each test starts with an empty task queue. The database broker's queue is emptied with the
    database; a Redis queue keeps the tasks of earlier tests, and a worker started by a test would
    first work them off, then (draining the queue) take the test's run before its own task, which
    a second worker would later get: a takeover the test did not arrange."""
    if settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().purge_queue()


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no API request counted (agentops.ratelimit). Counters are named by
    row ids, which repeat between tests (and, in Redis, outlive a test run by two minutes): an
    earlier test's requests would count against this test's key. Redis is shared with the task
    queue and the channel layer, so only the counters are deleted there."""
    cache = caches["throttle"]
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        counters = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
        if counters:
            client.delete(*counters)
    else:
        cache.clear()


@pytest.fixture
def allow_outbound(settings, monkeypatch):
    """allow_outbound("http://127.0.0.1:8123/x" or "127.0.0.1:8123") → tenant tools and webhooks may
    reach that host and port (a local test server) in this test, in worker processes it starts too.
    Every other loopback, private or metadata address stays refused (agentops.outbound)."""

    def allow(where: str) -> None:
        host, port = url_host_port(where) if "://" in where else where.rsplit(":", 1)
        settings.AGENTOPS_OUTBOUND_ALLOW = [*settings.AGENTOPS_OUTBOUND_ALLOW, f"{host}:{port}"]
        monkeypatch.setenv("AGENTOPS_OUTBOUND_ALLOW", ",".join(settings.AGENTOPS_OUTBOUND_ALLOW))

    return allow


@pytest.fixture
def wal_syncs(monkeypatch):
    """The files the SQLite backend syncs from now on (see agentops.sqlite), as they are synced."""
    import os

    synced, fdatasync = [], os.fdatasync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    return synced


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def member(tenant):
    """A factory: member("alice", Role.APPROVER) → a user with that role in `tenant`."""

    def make(username: str, role: str = Role.OPERATOR, in_tenant=None):
        user = UserFactory(username=username)
        MembershipFactory(user=user, tenant=in_tenant or tenant, role=role)
        return user

    return make


@pytest.fixture
def operator(member):
    return member("olivia", Role.OPERATOR)


@pytest.fixture
def approver(member):
    return member("arthur", Role.APPROVER)


@pytest.fixture
def owner(member):
    """oona: owner of `tenant` and staff, so she uses the admin for it; not a superuser."""
    user = member("oona", Role.OWNER)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def staff(client, owner):
    """A browser signed in as `owner`."""
    client.force_login(owner)
    return client


@pytest.fixture
def agent(tenant):
    return AgentFactory(tenant=tenant, slug="support")


@pytest.fixture
def api_key_for():
    """api_key_for(user, tenant, scopes=[...]) → the raw key."""

    def make(user, tenant, scopes=("read", "runs:write", "approvals:write")):
        _, raw = api_key_create(tenant=tenant, user=user, name="test", scopes=list(scopes), actor=Actor.system("test"))
        return raw

    return make


@pytest.fixture
def api(operator, tenant, api_key_for):
    """An API client authenticated with an operator's key of `tenant`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(operator, tenant)}")
    return client
