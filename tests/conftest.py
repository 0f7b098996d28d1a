import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import caches
from rest_framework.test import APIClient

from agentops import config_cache
from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.outbound import url_host_port
from agentops.tenancy.models import Membership, TenantGroup
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from agentops.tenancy.services import api_key_create
from approvals.models import ApprovalRequest
from demo.seed import seed_demo
from evals.models import EvalSuite
from evals.services import run_eval
from runs.engine import execute_run
from runs.services import run_create
from runs.models import Step, StepKind
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
        return member_in(in_tenant or tenant, username, role)

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


@pytest.fixture
def demo_api(db):
    """The demo tenant with a refund run waiting for approval (asked for by `operator`), an answered
    run, a queued eval run of its suite, and the key of an owner with every scope. Returns {"key", "client" (authenticated with
    it), and for each path parameter of the API an existing object's id}."""
    seed_demo()
    operator = Membership.objects.select_related("tenant", "user").get(tenant__slug="demo", user__username="operator")
    owner = member_in(operator.tenant, "owen", Role.OWNER)
    principal = Principal(tenant=operator.tenant, user=operator.user, membership=operator)
    waiting, _ = run_create(principal=principal, agent_slug="support", input={"message": "Please refund order #1043"})
    answered, _ = run_create(principal=principal, agent_slug="support", input={"message": "Where is order #1042?"},
                             thread="route-walk")
    for run in (waiting, answered):
        execute_run(run.pk)
    _, key = api_key_create(tenant=operator.tenant, user=owner, name="everything", actor=Actor.system("test"),
                            scopes=["read", "runs:write", "approvals:write", "tools:write", "agents:write",
                                    "members:write", "memory:write", "evals:write", "budgets:write", "runs:hold"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    suite = EvalSuite.objects.get(tenant=operator.tenant, name="support-basics")
    eval_run = run_eval(principal=principal, suite=suite, start=False)
    return {"key": key, "client": client, "run_id": str(waiting.pk), "answered_run_id": str(answered.pk),
            "suite_id": suite.pk, "eval_run_id": eval_run.pk,
            "id": ApprovalRequest.objects.get(run=waiting).pk, "name": "billing.refund", "slug": "support",
            "username": "operator", "thread_id": "route-walk",
            "seq": Step.objects.filter(run=waiting, kind=StepKind.LLM).values_list("seq", flat=True).first()}


@pytest.fixture
def tenant_group():
    """tenant_group(tenant, "name", *users) → a group of `tenant` with these users in it."""

    def make(tenant, name, *users):
        group = Group.objects.create(name=name)
        TenantGroup.objects.create(group=group, tenant=tenant)
        group.user_set.add(*users)
        return group

    return make


@pytest.fixture
def audited():
    """audited("run.refused") → the data of each such audit event, oldest first."""

    def events(action):
        return [event.data for event in AuditEvent.objects.filter(action=action).order_by("pk")]

    return events


def member_in(tenant, username: str, role: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def client_for(tenant, member, api_key_for):
    """client_for(role, scopes) → an API client with a key of a new member of `tenant`."""

    def make(role=Role.DEVELOPER, scopes=("read", "tools:write"), in_tenant=None):
        user = member(f"{role}-{'-'.join(scopes).replace(':', '')}", role, in_tenant=in_tenant)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, in_tenant or tenant, scopes)}")
        return client

    return make
