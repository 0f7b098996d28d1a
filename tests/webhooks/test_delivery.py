"""Attempts: retried with backoff through the task queue, each attempt made once, bounded in time."""

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from agentops.webhooks import services
from agentops.webhooks.models import DeliveryStatus
from agentops.webhooks.services import DELIVER_TASK, webhook_delivery_attempt, webhook_emit, webhook_sweep
from tests.support.tool_servers import Reply

pytestmark = pytest.mark.django_db(transaction=True)

database_broker_only = pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")


@database_broker_only
def test_a_failed_attempt_queues_its_retry_for_later_and_it_then_succeeds(tenant, hook_for, receiver, worker,
                                                                           clock):
    receiver.reply(Reply(503, "try later"))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7})

    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.response_code == 503 and "try later" in delivery.error
    backoff = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert services.BACKOFF_BASE_SECONDS <= backoff < services.BACKOFF_BASE_SECONDS + 5
    # The retry's task is in the queue, held until the retry is due.
    [(lock, payload)] = OrmQ.objects.values_list("lock", "payload")
    assert lock == delivery.next_attempt_at
    assert SignedPackage.loads(payload)["args"] == (delivery.pk,)
    assert worker.run_due() == []

    clock.set(delivery.next_attempt_at + timedelta(milliseconds=1))
    assert worker.run_due() == [(DELIVER_TASK, (delivery.pk,))]

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.error == ""
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["x-agentops-delivery"] == receiver.requests[1].headers["x-agentops-delivery"]


def test_a_retry_the_broker_cannot_hold_is_delivered_by_the_sweeper_when_due(tenant, hook_for, receiver, worker,
                                                                              clock):
    receiver.reply(Reply(500))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    worker.run_due()
    get_broker().purge_queue()  # Redis could not hold the retry's task, or the database lost it
    delivery.refresh_from_db()

    assert webhook_sweep(now=delivery.next_attempt_at - timedelta(seconds=1)) == 0
    clock.set(delivery.next_attempt_at)
    assert webhook_sweep(now=delivery.next_attempt_at) == 1
    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert len(receiver.requests) == 2


def test_a_duplicate_task_before_the_retry_is_due_does_nothing(tenant, hook_for, receiver, worker):
    receiver.reply(Reply(500))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    worker.run_due()

    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None  # long before the retry is due

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and len(receiver.requests) == 1


def test_a_delivery_gives_up_after_max_attempts(tenant, hook_for, receiver, worker, clock, monkeypatch):
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 2)
    receiver.reply(Reply(500), Reply(500), Reply(500))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    worker.run_due()
    delivery.refresh_from_db()
    clock.set(delivery.next_attempt_at)
    webhook_sweep(now=delivery.next_attempt_at)  # the retry's task, whichever broker

    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2 and delivery.next_attempt_at is None
    assert len(receiver.requests) == 2
    clock.set(delivery.last_attempt_at + timedelta(days=1))
    assert webhook_sweep(now=delivery.last_attempt_at + timedelta(days=1)) == 0


class TricklingReceiver:
    """Answers each request with a status line at once, then a header line every 0.2 s for 6 s:
    every read is quick, the answer is not."""

    def __init__(self):
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._socket.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    for line in range(30):
                        if self._stop.wait(0.2):
                            break
                        conn.sendall(b"X-Slow: %d\r\n" % line)
                except OSError:
                    pass


def test_an_answer_that_takes_too_long_fails_the_attempt_in_time(tenant, hook_for, worker, monkeypatch,
                                                                 allow_outbound):
    monkeypatch.setattr(services, "TIMEOUT_SECONDS", 1)
    with TricklingReceiver() as receiver:
        allow_outbound(receiver.url)
        hook_for(receiver.url)
        [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})

        started = time.monotonic()
        worker.run_due()
        elapsed = time.monotonic() - started

    delivery.refresh_from_db()
    assert elapsed < 3
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    assert delivery.error == "no answer within 1 s"


def test_an_attempt_overtaken_by_a_newer_one_leaves_the_outcome_to_it(tenant, hook_for, receiver, clock):
    # The first attempt's answer is slow (a 503 in the end); meanwhile the sweeper gives the attempt up
    # as stranded and a second attempt succeeds.
    receiver.reply(Reply(503, "late", delay=1.5))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    get_broker().purge_queue()

    def first_attempt():
        try:
            webhook_delivery_attempt(delivery_id=delivery.pk)
        finally:
            connection.close()

    slow = threading.Thread(target=first_attempt)
    slow.start()
    while not receiver.requests:
        time.sleep(0.01)
    delivery.refresh_from_db()
    clock.set(delivery.last_attempt_at + services.STRANDED_AFTER)
    second = webhook_delivery_attempt(delivery_id=delivery.pk)
    slow.join()

    delivery.refresh_from_db()
    assert second.status == DeliveryStatus.SUCCEEDED
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.response_code == 200
    assert [json.loads(r.body)["id"] for r in receiver.requests] == [str(delivery.uuid)] * 2


def test_duplicate_tasks_running_at_once_make_one_attempt(tenant, hook_for, receiver):
    receiver.reply(Reply(200, "ok", delay=0.3))
    hook_for(receiver.url)
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
    barrier = threading.Barrier(4)

    def duplicate_task():
        try:
            barrier.wait(timeout=10)
            webhook_delivery_attempt(delivery_id=delivery.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=duplicate_task) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    assert len(receiver.requests) == 1
