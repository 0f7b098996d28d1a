"""Webhooks in the admin: configuration through the services, deliveries retried from the log."""

import pytest

from agentops.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from agentops.webhooks.services import webhook_emit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivery(tenant, hook_for, receiver):
    hook_for(receiver.url, events=["*"])
    [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})
    return delivery


@pytest.mark.parametrize("model", ["webhook", "webhookdelivery"])
def test_the_admin_lists_and_shows_each_model(admin_client, delivery, model):
    obj = {"webhook": delivery.webhook, "webhookdelivery": delivery}[model]

    assert admin_client.get(f"/admin/webhooks/{model}/").status_code == 200
    assert admin_client.get(f"/admin/webhooks/{model}/{obj.pk}/change/").status_code == 200


def test_the_admin_retries_a_failed_delivery(admin_client, delivery, receiver, worker):
    worker.run_due()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8)

    admin_client.post("/admin/webhooks/webhookdelivery/", {"action": "retry_now", "_selected_action": [delivery.pk]})
    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 9
    assert len(receiver.requests) == 2


def test_the_admin_does_not_retry_an_attempt_in_flight(admin_client, delivery, receiver, worker):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1, last_attempt_at=delivery.created_at)
    worker.run_due()  # the delivery's own task, which finds the attempt in flight

    admin_client.post("/admin/webhooks/webhookdelivery/", {"action": "retry_now", "_selected_action": [delivery.pk]})
    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is None
    assert receiver.requests == []


def test_a_webhook_added_in_the_admin_receives_the_next_event(admin_client, tenant, settings):
    settings.CONFIG_CACHE_SECONDS = 3600
    assert webhook_emit(tenant=tenant, event="run.failed", payload={}) == []  # "no webhooks" is cached

    response = admin_client.post("/admin/webhooks/webhook/add/", {
        "tenant": tenant.pk, "name": "ops", "url": "https://hooks.example.com/agentops",
        "secret": "{{ secret:ACME_WEBHOOK_SECRET }}", "events": '["run.failed"]', "active": "on",
    })

    assert response.status_code == 302
    [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})
    assert delivery.webhook.url == "https://hooks.example.com/agentops"


def test_a_webhook_deleted_in_the_admin_receives_no_more_events(admin_client, tenant, hook_for, settings):
    settings.CONFIG_CACHE_SECONDS = 3600
    hook = hook_for("https://hooks.example.com/agentops", events=["*"])
    assert len(webhook_emit(tenant=tenant, event="run.failed", payload={})) == 1  # the webhook is cached

    admin_client.post(f"/admin/webhooks/webhook/{hook.pk}/delete/", {"post": "yes"})

    assert not Webhook.objects.exists()
    assert webhook_emit(tenant=tenant, event="run.failed", payload={}) == []
