"""The configuration cache: what runs read is loaded once, kept CONFIG_CACHE_SECONDS, and forgotten
when a service or an admin page that writes configuration commits — in every process that shares
the cache (Redis)."""

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.utils import timezone
from django.conf import settings as django_settings
from django.core.cache import caches
from django.urls import reverse

from agentops import config_cache
from agentops.audit.services import Actor
from agentops.llm.models import ModelPrice
from agentops.llm.pricing import price_pick, price_rows
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from agentops.tenancy.services import membership_set, tenant_create, tenant_update
from runs.engine import execute_run
from runs.models import DailyUsage, Run, RunStatus
from runs.registry import workflow
from runs.services import run_create
from tests.factories import AgentFactory, UserFactory
from tests.support import workers
from tools.gateway import ToolRefused, ToolSession
from tools.services import tool_create

pytest_plugins = ["tests.support.browser"]  # the private Redis (redis_url)

ACTOR = Actor.system("test")


@workflow("test_config_cache_one_call")
def one_model_call(ctx, input):
    ctx.llm([{"role": "user", "content": "hello"}])
    return {}


class Loads:
    """A loader that counts its calls and returns what it is set to."""

    def __init__(self, value="v1"):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def start_run(agent, user, **extra):
    membership = Membership.objects.get(user=user, tenant=agent.tenant)
    principal = Principal(tenant=agent.tenant, user=user, membership=membership)
    run, _ = run_create(principal=principal, agent_slug=agent.slug, input={}, **extra)
    return run


def executed(run):
    execute_run(run.pk)
    run.refresh_from_db()
    return run


# -- the cache itself ----------------------------------------------------------------------------


def test_a_value_is_loaded_once_then_served_from_the_cache(db):
    load = Loads()

    assert [config_cache.cached(("thing", 1), load) for _ in range(3)] == ["v1", "v1", "v1"]
    assert load.calls == 1


def test_a_pinned_generation_serves_hits_without_reading_the_shared_cache(db, monkeypatch):
    config_cache.cached(("thing", 1), Loads("v1"))
    reads = []
    cache = caches[config_cache.ALIAS]
    get = cache.get
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: reads.append(args) or get(*args, **kwargs))

    with config_cache.pinned():
        values = [config_cache.cached(("thing", 1), lambda: pytest.fail("loaded again")) for _ in range(3)]

    assert values == ["v1", "v1", "v1"]
    assert len(reads) == 1  # the generation, once for the whole block


def test_a_change_made_inside_a_pinned_block_applies_at_once(db):
    with config_cache.pinned():
        config_cache.cached(("thing", 1), Loads("old"))
        config_cache.clear()  # this process's own write, committed

        assert config_cache.cached(("thing", 1), Loads("new")) == "new"


def test_zero_seconds_disables_the_cache(db, settings):
    settings.CONFIG_CACHE_SECONDS = 0
    load = Loads()

    config_cache.cached(("thing", 1), load)
    config_cache.cached(("thing", 1), load)

    assert load.calls == 2


def test_clear_forgets_every_entry(db):
    config_cache.cached(("a",), Loads("old"))
    config_cache.cached(("b", 2), Loads("old"))

    config_cache.clear()

    assert config_cache.cached(("a",), Loads("new")) == "new"
    assert config_cache.cached(("b", 2), Loads("new")) == "new"


def test_a_value_loaded_while_an_invalidation_commits_is_not_served_afterwards(db):
    # Given a load that reads the rows while another transaction replaces them and commits
    def load_racing_a_commit():
        config_cache.clear()  # the other transaction's invalidation, between our read and our store
        return "read before the commit"

    config_cache.cached(("thing", 1), load_racing_a_commit)

    # Then the next reader loads again instead of taking the stale value
    assert config_cache.cached(("thing", 1), Loads("after the commit")) == "after the commit"


def test_a_lost_generation_never_brings_old_entries_back(db):
    config_cache.cached(("thing", 1), Loads("old"))

    caches[config_cache.ALIAS].delete(config_cache.GENERATION)  # evicted, or Redis restarted empty

    assert config_cache.cached(("thing", 1), Loads("new")) == "new"


def test_invalidate_waits_for_the_commit_and_a_rollback_keeps_the_cache(db, django_capture_on_commit_callbacks):
    config_cache.cached(("thing", 1), Loads("old"))

    with django_capture_on_commit_callbacks(execute=True):
        config_cache.invalidate()
        assert config_cache.cached(("thing", 1), Loads("new")) == "old"  # not committed yet
    assert config_cache.cached(("thing", 1), Loads("new")) == "new"

    with django_capture_on_commit_callbacks(execute=False):  # the transaction rolls back
        config_cache.invalidate()
    assert config_cache.cached(("thing", 1), Loads("newer")) == "new"


def test_keys_of_any_length_and_characters_are_accepted(db, recwarn):
    key = ("granted-tools", 1, tuple(f"tool name {i}" for i in range(100)))

    config_cache.cached(key, Loads())

    assert config_cache.cached(key, lambda: pytest.fail("loaded again")) == "v1"
    assert not [w for w in recwarn if "CacheKeyWarning" in type(w.message).__name__]


# -- writers: services -----------------------------------------------------------------------------


@pytest.fixture
def budget_agent(tenant):
    return AgentFactory(tenant=tenant, slug="budgeted", version__workflow="test_config_cache_one_call",
                        version__provider="scripted")


def test_a_daily_cost_limit_lowered_through_the_service_stops_the_next_run_at_once(
        tenant, operator, budget_agent, django_capture_on_commit_callbacks):
    # Given a run that read its tenant (no limit) into the cache, and a day's spend
    assert executed(start_run(budget_agent, operator)).status == RunStatus.SUCCEEDED
    DailyUsage.objects.filter(tenant=tenant).update(cost=Decimal("0.02"))

    # When an owner lowers the limit below it (the service writes with a queryset update)
    with django_capture_on_commit_callbacks(execute=True):
        tenant_update(tenant=tenant, actor=ACTOR, daily_cost_limit=Decimal("0.01"))

    # Then the next run of the same version already sees it
    run = executed(start_run(budget_agent, operator))
    assert run.error["code"] == "tenant_budget_exceeded"


def test_a_limit_written_around_the_services_waits_for_the_cache_to_expire(tenant, operator, budget_agent):
    # Given the same run and spend
    assert executed(start_run(budget_agent, operator)).status == RunStatus.SUCCEEDED
    DailyUsage.objects.filter(tenant=tenant).update(cost=Decimal("0.02"))

    # When the limit is written without a service (as another process's shell would)
    Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("0.01"))

    # Then runs go on with the cached tenant for now: the cache is what the previous test beat
    assert executed(start_run(budget_agent, operator)).status == RunStatus.SUCCEEDED


@pytest.fixture
def crm_tool(tenant):
    return tool_create(tenant=tenant, name="crm.ping", kind="http", actor=ACTOR, description="Ping.",
                       config={"url": "http://tools.invalid/unused"}, input_schema={"type": "object", "properties": {}})


@pytest.fixture
def tool_run(tenant, crm_tool):
    """tool_run(user) → a run acting for `user`, of an agent granted crm.ping."""
    agent = AgentFactory(tenant=tenant, slug="pinger", version__tools=["crm.ping"])

    def make(user):
        return start_run(agent, user)

    return make


def test_a_role_change_through_the_service_is_seen_by_the_next_tool_check(
        tenant, operator, tool_run, django_capture_on_commit_callbacks):
    run = tool_run(operator)
    ToolSession(run).prepare("crm.ping", {})  # the operator may: cached

    with django_capture_on_commit_callbacks(execute=True):
        membership_set(tenant=tenant, user=operator, role=Role.VIEWER, actor=ACTOR)

    with pytest.raises(ToolRefused) as refusal:
        ToolSession(run).prepare("crm.ping", {})
    assert refusal.value.code == "permission_denied"


@pytest.fixture
def refused_viewer(tenant, tool_run):
    """sam, a viewer (whose role may not use tools), and his run, refused crm.ping once: the
    refusal is now in the cache."""
    sam = UserFactory(username="sam")
    membership_set(tenant=tenant, user=sam, role=Role.VIEWER, actor=ACTOR)
    run = tool_run(sam)
    with pytest.raises(ToolRefused):
        ToolSession(run).prepare("crm.ping", {})
    return sam, run


def test_a_promoted_member_is_not_refused_from_a_cached_answer(
        tenant, refused_viewer, django_capture_on_commit_callbacks):
    # Given a user whose run was refused while they were a viewer
    sam, run = refused_viewer

    # When they become an operator
    with django_capture_on_commit_callbacks(execute=True):
        membership_set(tenant=tenant, user=sam, role=Role.OPERATOR, actor=ACTOR)

    # Then the next check lets them
    ToolSession(run).prepare("crm.ping", {})


# -- writers: admin pages --------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def cached_price(model: str):
    """The price as the engine reads it."""
    rows = config_cache.cached(("model-prices", model), lambda: price_rows(model))
    return price_pick(rows, model, at=timezone.now(), prompt_tokens=0)


def test_a_price_changed_in_the_admin_is_used_at_once(admin_client, django_capture_on_commit_callbacks):
    price = ModelPrice.objects.create(model="test-model", input_per_mtok=1, cached_input_per_mtok=1,
                                      output_per_mtok=1)
    assert cached_price("test-model").input_per_mtok == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:llm_modelprice_change", args=[price.pk]), {
            "model": "test-model", "effective_from_0": "2000-01-01", "effective_from_1": "00:00:00",
            "prompt_tokens_above": "0", "input_per_mtok": "7", "cached_input_per_mtok": "1", "output_per_mtok": "1"})

    assert response.status_code == 302
    assert cached_price("test-model").input_per_mtok == 7


def test_a_price_deleted_in_the_admin_is_gone_at_once(admin_client, django_capture_on_commit_callbacks):
    price = ModelPrice.objects.create(model="test-model", input_per_mtok=1, cached_input_per_mtok=1,
                                      output_per_mtok=1)
    assert cached_price("test-model") is not None

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:llm_modelprice_delete", args=[price.pk]), {"post": "yes"})

    assert cached_price("test-model") is None


def test_a_user_deactivated_in_the_admin_may_no_longer_use_tools(
        admin_client, operator, tool_run, django_capture_on_commit_callbacks):
    run = tool_run(operator)
    ToolSession(run).prepare("crm.ping", {})
    form = {"username": "olivia", "is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:auth_user_change", args=[operator.pk]), form)

    assert response.status_code == 302
    with pytest.raises(ToolRefused) as refusal:
        ToolSession(Run.objects.get(pk=run.pk)).prepare("crm.ping", {})  # as the run's next execution loads it
    assert refusal.value.code == "permission_denied"


def test_a_tool_permission_granted_on_the_admin_page_applies_at_once(
        admin_client, crm_tool, refused_viewer, django_capture_on_commit_callbacks):
    # Given a viewer (whose role may not use tools) refused once
    sam, run = refused_viewer

    # When an admin grants sam the tool on its "Object permissions" page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:tools_tool_permissions_manage_user", args=[crm_tool.pk, sam.pk]),
                                     {"permissions": ["use_tool"]})

    # Then sam's run may use it
    assert response.status_code == 302
    ToolSession(run).prepare("crm.ping", {})


# -- several processes ---------------------------------------------------------------------------


class ConfigReader:
    """Another process reading a tenant's daily cost limit through the configuration cache."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.config_reader"], cwd=workers.ROOT, text=True,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": workers.test_database_url(),
                 **env},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def read(self, tenant_id: int) -> tuple[str, str]:
        """(the limit, "loaded" or "cached")."""
        self.process.stdin.write(f"{tenant_id}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the reader process died"
        value, how = line.split()
        return value, how

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def shared_cache(request, settings):
    """The Redis the configuration cache uses: the deployment's (REDIS_URL, PostgreSQL + Redis
    run), else a private one for this test; this process's cache is pointed at it either way."""
    redis_url = django_settings.REDIS_URL or request.getfixturevalue("redis_url")
    settings.CACHES = {**settings.CACHES, "config": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
        "KEY_PREFIX": "agentops-config"}}
    config_cache.clear()
    return redis_url


@pytest.mark.django_db(transaction=True)
def test_with_redis_an_invalidation_in_one_process_is_seen_by_another_at_once(shared_cache, settings):
    # Given another process that has read a tenant's limit, kept long enough that only an
    # invalidation can make it read again
    settings.CONFIG_CACHE_SECONDS = 300
    tenant = tenant_create(name="Initech", slug="initech", actor=ACTOR, daily_cost_limit=Decimal("10"))
    reader = ConfigReader({"REDIS_URL": shared_cache, "CONFIG_CACHE_SECONDS": "300"})
    try:
        assert reader.read(tenant.pk) == ("10.0000", "loaded")

        # When the limit is written around the services, the other process keeps its value,
        # and this process gets the very same entry: one cache for both
        Tenant.objects.filter(pk=tenant.pk).update(daily_cost_limit=Decimal("5"))
        assert reader.read(tenant.pk) == ("10.0000", "cached")
        assert config_cache.cached(("test-daily-limit", tenant.pk), lambda: pytest.fail("loaded")) == "10.0000"

        # When this process changes it through the service
        tenant_update(tenant=tenant, actor=ACTOR, daily_cost_limit=Decimal("1"))

        # Then the other process reads the new limit at once
        assert reader.read(tenant.pk) == ("1.0000", "loaded")
    finally:
        reader.close()
