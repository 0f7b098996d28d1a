"""API rate limits: each API key (a browser session: each user) has a budget of reads and one of
writes per minute, the tenant's or the platform's; past it, 429 with Retry-After in the error
envelope. The counting is atomic on the cache, so processes sharing Redis share one count."""

import threading
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from agentops.audit.services import Actor
from agentops.ratelimit import ApiRateThrottle, RateLimited, window_hit
from agentops.tenancy.middleware import principal_for_session
from agentops.tenancy.roles import Role
from agentops.tenancy.services import tenant_update
from tests.tenancy.test_admin import form_as_posted

pytest_plugins = ["tests.support.browser"]  # the private Redis (redis_url)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
MINUTE = 60


def write(client):
    """One API write. The limit is checked before the view answers, so cancelling a run that does
    not exist is a write that costs nothing else (404 when allowed)."""
    return client.post(f"/api/v1/runs/{uuid.uuid4()}/cancel/")


def read(client):
    return client.get("/api/v1/agents/")


def key_client(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def limit_tenant(tenant, **limits):
    tenant_update(tenant=tenant, actor=SYSTEM, **limits)


def session_request(user):
    request = APIRequestFactory().get("/api/v1/agents/")
    request.user, request.session = user, {}
    return request


# Through the API


def test_a_key_past_its_write_budget_gets_429_with_retry_after_in_the_error_envelope(api, tenant):
    limit_tenant(tenant, api_rate_write_per_minute=2)

    allowed = [write(api).status_code for _ in range(2)]
    refused = write(api)

    assert allowed == [404, 404]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * MINUTE
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "2 per minute" in error["message"] and "API key" in error["message"]
    assert error["details"] == {"kind": "write", "limit_per_minute": 2,
                                "retry_after": int(refused.headers["Retry-After"])}


def test_a_key_out_of_writes_can_still_read(api, tenant):
    limit_tenant(tenant, api_rate_write_per_minute=1)
    write(api)
    assert write(api).status_code == 429

    assert read(api).status_code == 200


def test_reads_have_a_budget_of_their_own(api, tenant):
    limit_tenant(tenant, api_rate_read_per_minute=2)

    statuses = [read(api).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert write(api).status_code == 404


def test_another_key_of_the_tenant_and_a_key_of_another_tenant_keep_their_budgets(
    api, tenant, other_tenant, operator, member, api_key_for
):
    limit_tenant(tenant, api_rate_write_per_minute=1)
    limit_tenant(other_tenant, api_rate_write_per_minute=1)
    same_tenant = key_client(api_key_for(operator, tenant))
    other = key_client(api_key_for(member("gus", Role.OPERATOR, in_tenant=other_tenant), other_tenant))
    write(api)
    assert write(api).status_code == 429

    assert write(same_tenant).status_code == 404
    assert write(other).status_code == 404


def test_without_a_tenant_limit_the_platform_default_applies(api, tenant, settings):
    settings.API_RATE_WRITE_PER_MINUTE = 2
    assert tenant.api_rate_write_per_minute is None

    statuses = [write(api).status_code for _ in range(3)]

    assert statuses == [404, 404, 429]


def test_a_tenant_limit_saved_through_the_service_applies_from_the_next_request(api, tenant):
    limit_tenant(tenant, api_rate_write_per_minute=1)
    write(api)
    assert write(api).status_code == 429

    limit_tenant(tenant, api_rate_write_per_minute=3)

    assert write(api).status_code == 404


def test_a_tenant_limit_saved_in_the_admin_applies_from_the_next_request(api, tenant, admin_client):
    url = f"/admin/tenancy/tenant/{tenant.pk}/change/"
    data = {**form_as_posted(admin_client.get(url)), "api_rate_read_per_minute": "1"}
    assert admin_client.post(url, data).status_code == 302

    assert [read(api).status_code for _ in range(2)] == [200, 429]


def test_checking_the_limit_reads_the_tenant_authentication_loaded_and_no_row(
    tenant, operator, django_assert_num_queries
):
    limit_tenant(tenant, api_rate_read_per_minute=1)
    http_request = session_request(operator)
    http_request.principal = principal_for_session(http_request)  # the middleware's one query
    request = Request(http_request)

    with django_assert_num_queries(0):
        assert ApiRateThrottle().allow_request(request, view=None)
        with pytest.raises(RateLimited):
            ApiRateThrottle().allow_request(request, view=None)


def test_a_browser_session_counts_against_its_user_not_its_session_or_keys(tenant, operator, api_key_for):
    limit_tenant(tenant, api_rate_read_per_minute=2)
    first_browser, second_browser = APIClient(), APIClient()
    first_browser.force_login(operator)
    second_browser.force_login(operator)
    read(first_browser)
    read(second_browser)

    refused = read(first_browser)

    assert refused.status_code == 429 and "for this user" in refused.json()["error"]["message"]
    assert read(second_browser).status_code == 429
    assert read(key_client(api_key_for(operator, tenant))).status_code == 200


def test_open_endpoints_are_not_limited_for_anonymous_callers(client, settings):
    settings.API_RATE_READ_PER_MINUTE = 1

    statuses = [client.get("/api/schema/").status_code for _ in range(2)]

    assert statuses == [200, 200]


# The counter


@pytest.fixture
def cache():
    return LocMemCache(f"ratelimit-test-{uuid.uuid4()}", {})


def hit(cache, at, limit):
    return window_hit(cache, key="write:key:1", limit=limit, window=MINUTE, now=at)


WINDOW_START = 1000 * MINUTE


def test_a_window_allows_the_limit_and_then_says_when_the_next_request_fits(cache):
    results = [hit(cache, WINDOW_START + 10, limit=3) for _ in range(4)]

    # The next window still carries the 3 requests, by the share of it not yet passed:
    # 3 × (1 - t/60) + 1 ≤ 3 from t = 20 s, that is 50 + 20 s from now.
    assert results == [0, 0, 0, 70]
    assert hit(cache, WINDOW_START + MINUTE + 19, limit=3) > 0
    assert hit(cache, WINDOW_START + MINUTE + 20, limit=3) == 0


def test_the_previous_window_counts_by_the_share_of_it_still_within_the_last_minute(cache):
    for _ in range(4):
        assert hit(cache, WINDOW_START, limit=4) == 0

    # Half-way through the next window the 4 weigh 2: two more fit, and a third once they weigh 1.
    results = [hit(cache, WINDOW_START + MINUTE + 30, limit=4) for _ in range(3)]

    assert results == [0, 0, 15]
    assert hit(cache, WINDOW_START + MINUTE + 45, limit=4) == 0


def test_a_refused_request_is_not_counted(cache):
    hit(cache, WINDOW_START, limit=1)

    refusals = [hit(cache, WINDOW_START + 1, limit=1) for _ in range(5)]

    # limit 1: the request at 0 s weighs on the next window until its end, whatever was refused
    assert refusals == [119] * 5
    assert hit(cache, WINDOW_START + 2 * MINUTE, limit=1) == 0


@pytest.fixture
def shared_redis(request):
    """The deployment's Redis (PostgreSQL + Redis run), else a private one for this test."""
    return django_settings.REDIS_URL or request.getfixturevalue("redis_url")


def redis_cache(url, prefix):
    """A cache client of its own, with its own connections, as another process would have."""
    return RedisCache(url, {"KEY_PREFIX": prefix})


def test_with_redis_two_cache_clients_see_one_count(shared_redis):
    prefix = f"ratelimit-test-{uuid.uuid4()}"
    first, second = redis_cache(shared_redis, prefix), redis_cache(shared_redis, prefix)

    assert [hit(first, WINDOW_START, limit=2) for _ in range(2)] == [0, 0]

    assert hit(second, WINDOW_START, limit=2) > 0


def test_with_redis_concurrent_clients_are_allowed_exactly_the_limit(shared_redis):
    # Given 8 clients, each with its own connections, sending 25 requests at once against a limit of 50
    prefix = f"ratelimit-test-{uuid.uuid4()}"
    allowed, start = [], threading.Barrier(8)

    def client():
        cache = redis_cache(shared_redis, prefix)
        start.wait()
        allowed.extend(hit(cache, WINDOW_START, limit=50) == 0 for _ in range(25))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly 50 of the 200 are allowed: no increment was lost, none refused too many
    assert sum(allowed) == 50
