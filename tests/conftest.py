import pytest
from django.conf import settings
from rest_framework.test import APIClient

from agentops import config_cache
from agentops.audit.services import Actor
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


@pytest.fixture
def client_for(tenant, member, api_key_for):
    """client_for(role, scopes) → an API client with a key of a new member of `tenant`."""

    def make(role=Role.DEVELOPER, scopes=("read", "tools:write"), in_tenant=None):
        user = member(f"{role}-{'-'.join(scopes).replace(':', '')}", role, in_tenant=in_tenant)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, in_tenant or tenant, scopes)}")
        return client

    return make
