"""Webhooks reach no loopback, private or metadata address (agentops.outbound): they belong to tenants."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agentops.webhooks.models import DeliveryStatus, Webhook
from agentops.webhooks.services import webhook_delivery_retry, webhook_emit, webhook_sweep
from tests.support.tool_servers import Reply, ScriptedHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inside():
    """A receiver on 127.0.0.1 that nothing allows: it records whatever reaches it."""
    with ScriptedHTTPServer(lambda request: Reply(200, "ok")) as server:
        yield server


def test_a_delivery_to_loopback_fails_at_once_with_the_reason_and_nothing_arrives(tenant, hook_for, inside, worker):
    hook_for(f"{inside.url}/hook")
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7})

    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at is None and delivery.response_code is None
    assert "Refused to connect to 127.0.0.1, which is loopback" in delivery.error
    assert inside.requests == []
    # Nothing is left to retry it: no task, and the sweeper finds nothing due
    assert worker.run_due() == []
    assert webhook_sweep(now=timezone.now() + timedelta(days=1)) == 0


def test_a_refused_delivery_goes_through_once_the_platform_allows_the_address(tenant, hook_for, inside, worker,
                                                                             allow_outbound):
    hook_for(f"{inside.url}/hook")
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    worker.run_due()

    allow_outbound(inside.url)
    assert webhook_delivery_retry(delivery_id=delivery.pk)
    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert len(inside.requests) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook",
                                 "http://169.254.169.254/latest", "https://10.1.2.3/hook"])
def test_a_webhook_naming_an_internal_address_does_not_validate(tenant, url):
    hook = Webhook(tenant=tenant, name="x", url=url, secret="{{ secret:ACME_WEBHOOK_SECRET }}", events=["*"])

    with pytest.raises(ValidationError) as caught:
        hook.full_clean()

    assert "tenant tools and webhooks may not reach" in caught.value.message_dict["url"][0]


def test_a_webhook_to_a_public_name_validates(tenant):
    Webhook(tenant=tenant, name="x", url="https://hooks.example.com/agentops",
            secret="{{ secret:ACME_WEBHOOK_SECRET }}", events=["*"]).full_clean()
