"""The sweeper queues the deliveries no task is coming for; a duplicate task never repeats an attempt."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from django_q.brokers import get_broker

from agentops.webhooks import services
from agentops.webhooks.models import DeliveryStatus, WebhookDelivery
from agentops.webhooks.services import DELIVER_TASK, webhook_delivery_attempt, webhook_emit, webhook_sweep
from runs.services import sweep
from tests.support.tool_servers import Reply
from tests.support.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerKilled(BaseException):
    """What the attempt's process sees of a SIGKILL: nothing after this point runs."""


def killed_mid_attempt(delivery, monkeypatch):
    """Claim the delivery's attempt and die before its outcome is written, as a killed worker does."""
    get_broker().purge_queue()  # the dead worker had taken the task

    def die(delivery):
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(services, "_post", die)
        with pytest.raises(WorkerKilled):
            webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_a_stranded_attempt_is_swept_and_delivered_exactly_once(tenant, hook_for, receiver, worker, clock,
                                                                  monkeypatch):
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    delivery = killed_mid_attempt(delivery, monkeypatch)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.next_attempt_at is None

    # While the attempt could still be running, neither the sweeper nor a duplicate task touches it.
    almost = delivery.last_attempt_at + services.STRANDED_AFTER - timedelta(seconds=1)
    clock.set(almost)
    assert webhook_sweep(now=almost) == 0
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None

    stranded = delivery.last_attempt_at + services.STRANDED_AFTER
    clock.set(stranded)
    assert webhook_sweep(now=stranded) == 1
    assert webhook_sweep(now=stranded) == 1  # an overlapping sweep queues it again
    assert worker.run_due() == [(DELIVER_TASK, (delivery.pk,))] * 2

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert [r.headers["x-agentops-delivery"] for r in receiver.requests] == [str(delivery.uuid)]


def test_a_delivery_whose_task_was_lost_is_swept_after_a_grace(tenant, hook_for, receiver, worker, clock):
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    get_broker().purge_queue()  # e.g. the web process died between its commit and the Redis push

    assert webhook_sweep(now=delivery.created_at + timedelta(seconds=5)) == 0
    clock.set(delivery.created_at + services.UNATTEMPTED_GRACE)
    assert webhook_sweep(now=delivery.created_at + services.UNATTEMPTED_GRACE) == 1
    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1


def test_the_sweep_leaves_finished_deliveries_and_retries_not_yet_due_alone(tenant, hook_for, receiver, worker):
    receiver.reply(Reply(500))
    hook_for(receiver.url, events=["*"])
    [retrying] = webhook_emit(tenant=tenant, event="run.failed", payload={})
    worker.run_due()
    [succeeded] = webhook_emit(tenant=tenant, event="run.succeeded", payload={})
    worker.run_due()
    [failed] = webhook_emit(tenant=tenant, event="run.waiting", payload={})
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, attempts=8)
    retrying.refresh_from_db()

    assert webhook_sweep(now=retrying.next_attempt_at - timedelta(seconds=1)) == 0
    assert WebhookDelivery.objects.get(pk=succeeded.pk).status == DeliveryStatus.SUCCEEDED


def test_the_run_sweeper_sweeps_webhook_deliveries(tenant, hook_for, receiver, worker, clock):
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    get_broker().purge_queue()
    later = delivery.created_at + services.UNATTEMPTED_GRACE
    clock.set(later)

    assert sweep(now=later)["webhooks_queued"] == 1
    worker.run_due()
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


@pytest.mark.slow
def test_a_worker_killed_during_the_post_leaves_the_delivery_to_the_sweeper(tenant, hook_for, receiver,
                                                                           worker):
    # The first POST is held until the worker is dead; the second is answered at once.
    receiver.reply(Reply(200, "ok", delay=30))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    with running_worker() as first:
        wait_for(lambda: receiver.requests, timeout=60, message=f"the first attempt\n{first.output()}")
        first.kill()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.next_attempt_at is None

    assert webhook_sweep(now=timezone.now()) == 0  # as far as anyone knows, the attempt is still running
    # STRANDED_AFTER passes (for the next worker's process too).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_attempt_at=F("last_attempt_at") - services.STRANDED_AFTER)
    assert webhook_sweep(now=timezone.now()) == 1

    def delivered() -> bool:
        """A worker's turn, then, if the delivery is still pending, the next sweep: with Redis, a task
        pushed before the server noticed the dead worker's blocked read can be handed to that corpse."""
        worker.run_due()
        if WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED:
            return True
        webhook_sweep(now=timezone.now())
        return False

    wait_for(delivered, timeout=30, interval=0.5, message="the swept delivery")

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.response_code == 200
    # The receiver saw the delivery twice (the first answer never reached the dead worker) under one
    # delivery id, which it deduplicates on.
    assert [r.headers["x-agentops-delivery"] for r in receiver.requests] == [str(delivery.uuid)] * 2
