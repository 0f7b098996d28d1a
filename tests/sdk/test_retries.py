"""Retries, timeouts and idempotency through a proxy that fails on purpose."""

import time
import uuid

import pytest
from agentops_client import AgentOps, APIConnectionError, APITimeoutError, ConflictError, InternalServerError

from runs.models import Run as RunRow
from tests.sdk.proxy import Fault, FaultyProxy
from tests.support.browser import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxy(live_server):
    with FaultyProxy(live_server.url) as running:
        yield running


def posts(proxy):
    return [request for request in proxy.requests if request.method == "POST"]


def test_a_create_retried_after_a_503_returns_the_run_the_server_did_create(sdk, helper, proxy):
    proxy.fail(Fault(503, forward=True))  # the server creates the run; the client hears 503

    run = sdk(base_url=proxy.url).runs.create(agent="helper", message="exactly once")

    first, second = posts(proxy)
    assert proxy.answered == [("POST", 503), ("POST", 200)]  # 200: the run the key already names
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert list(RunRow.objects.values_list("pk", flat=True)) == [uuid.UUID(run.id)]


def test_each_create_call_has_its_own_key(sdk, helper, proxy):
    client = sdk(base_url=proxy.url)

    client.runs.create(agent="helper", message="one")
    client.runs.create(agent="helper", message="two")

    first, second = posts(proxy)
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
    assert RunRow.objects.count() == 2


def test_retry_after_is_honoured(sdk, helper, proxy):
    proxy.fail(Fault(429, headers={"Retry-After": "1"}, forward=False))
    started = time.monotonic()

    runs = list(sdk(base_url=proxy.url).runs.list())

    assert time.monotonic() - started >= 1.0
    assert runs == [] and proxy.answered == [("GET", 429), ("GET", 200)]


def test_server_errors_are_retried_with_backoff_then_raised(sdk, helper, proxy):
    proxy.fail(*[Fault(502, forward=False)] * 3)

    with pytest.raises(InternalServerError) as failed:
        sdk(base_url=proxy.url, max_retries=2).runs.list().pages().__next__()

    assert failed.value.status_code == 502 and failed.value.code == "unavailable"
    assert proxy.answered == [("GET", 502)] * 3


def test_a_decision_is_not_repeated_after_a_5xx_that_may_have_reached_the_server(sdk, helper, proxy, start_runs):
    [run_id] = start_runs(1)
    proxy.fail(Fault(503, forward=True))

    with pytest.raises(InternalServerError):
        sdk(base_url=proxy.url).runs.cancel(run_id)

    assert len(posts(proxy)) == 1 and RunRow.objects.get(pk=run_id).status == "cancelled"
    with pytest.raises(ConflictError):  # what a blind retry would have met
        sdk().runs.cancel(run_id)


def test_a_slow_answer_times_out_after_the_retries(sdk, helper, proxy):
    proxy.fail(*[Fault(200, forward=False, delay=1.0)] * 2)

    with pytest.raises(APITimeoutError):
        sdk(base_url=proxy.url, timeout=0.3, max_retries=1).agents.get("helper")

    assert len(proxy.requests) == 2


def test_an_unreachable_server_is_a_connection_error():
    with AgentOps(api_key="ak_x", base_url=f"http://127.0.0.1:{free_port()}", max_retries=1) as client:
        with pytest.raises(APIConnectionError) as failed:
            client.agents.get("helper")

    assert failed.value.code == "connection_error" and failed.value.status_code is None
