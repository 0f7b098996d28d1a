"""Emitting an event: a delivery per subscribed webhook and its task, in the change's transaction."""

import pytest
from django.conf import settings
from django.db import transaction
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from agentops.webhooks.models import Webhook, WebhookDelivery
from agentops.webhooks.services import DELIVER_TASK, webhook_emit

pytestmark = pytest.mark.django_db(transaction=True)

database_broker_only = pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
redis_broker_only = pytest.mark.skipif(not settings.REDIS_URL, reason="the database broker is in use")


def test_emit_writes_deliveries_only_for_active_subscribed_webhooks(tenant, other_tenant, hook_for):
    wanted = hook_for("http://127.0.0.1:9/a", events=["run.failed"])
    hook_for("http://127.0.0.1:9/b", events=["run.succeeded"])
    everything = hook_for("http://127.0.0.1:9/c", events=["*"])
    Webhook.objects.filter(pk=hook_for("http://127.0.0.1:9/d", events=["*"]).pk).update(active=False)
    Webhook.objects.create(tenant=other_tenant, name="theirs", url="http://127.0.0.1:9/e",
                           secret="{{ secret:ACME_WEBHOOK_SECRET }}", events=["*"])

    deliveries = webhook_emit(tenant=tenant, event="run.failed", payload={"run": {"id": "r1"}})

    assert {d.webhook_id for d in deliveries} == {wanted.pk, everything.pk}
    assert all(d.payload["data"] == {"run": {"id": "r1"}} and d.payload["id"] == str(d.uuid) for d in deliveries)
    assert WebhookDelivery.objects.count() == 2


def test_an_event_emitted_in_a_transaction_that_rolls_back_queues_nothing(tenant, hook_for, receiver, worker):
    hook_for(receiver.url, events=["*"])

    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit(tenant=tenant, event="run.failed", payload={})
        raise RuntimeError("the change the event was about failed")

    assert get_broker().queue_size() == 0
    assert worker.run_due() == []
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


@database_broker_only
def test_a_deliverys_task_is_written_in_the_changes_transaction(tenant, hook_for):
    hook_for("http://127.0.0.1:9/a", events=["*"])

    with transaction.atomic():
        [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})
        # Written now, handed out when this commits: no moment in which the change is committed
        # and its task not yet queued.
        [task] = [SignedPackage.loads(payload) for payload in OrmQ.objects.values_list("payload", flat=True)]

    assert (task["func"], task["args"]) == (DELIVER_TASK, (delivery.pk,))
    assert get_broker().queue_size() == 1


@redis_broker_only
def test_a_deliverys_task_leaves_for_redis_when_the_change_commits(tenant, hook_for):
    hook_for("http://127.0.0.1:9/a", events=["*"])

    with transaction.atomic():
        webhook_emit(tenant=tenant, event="run.failed", payload={})
        assert get_broker().queue_size() == 0

    assert get_broker().queue_size() == 1
