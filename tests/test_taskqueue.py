"""The database task queue: tasks written in the caller's transaction, held until a given time if
asked; its bookkeeping commits skip the fsync on SQLite, queueing stays durable."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from agentops.taskqueue import DatabaseBroker, enqueue

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_tasks_go_through_the_database_broker_and_come_out_once(wal_syncs):
    broker = get_broker()
    assert isinstance(broker, DatabaseBroker)

    task_id = broker.enqueue("payload")
    enqueue_syncs = len(wal_syncs)
    (taken_id, payload), = broker.dequeue()
    broker.acknowledge(taken_id)

    assert (taken_id, payload) == (task_id, "payload")
    assert not OrmQ.objects.filter(pk=task_id).exists()
    if connection.vendor == "sqlite":  # queueing is durable; taking and acknowledging skip the sync
        assert enqueue_syncs == len(wal_syncs) == 1


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_a_task_is_written_in_the_callers_transaction_and_rolled_back_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("runs.tasks.execute_run", "never")
        assert OrmQ.objects.count() == 1  # written now, visible to workers when this commits
        raise RuntimeError("the change the task was about failed")

    assert OrmQ.objects.count() == 0


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_a_task_queued_for_later_is_held_until_then():
    assert enqueue("runs.tasks.fire_timer", "later", at=timezone.now() + timedelta(minutes=5))
    assert get_broker().dequeue() is None

    OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=1))  # five minutes pass
    (task_id, payload), = get_broker().dequeue()
    assert SignedPackage.loads(payload)["args"] == ("later",)


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_a_task_queued_for_a_past_time_is_delivered_at_once():
    assert enqueue("runs.tasks.fire_timer", "overdue", at=timezone.now() - timedelta(hours=1))

    (task_id, payload), = get_broker().dequeue()
    assert SignedPackage.loads(payload)["args"] == ("overdue",)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the database broker is in use")
def test_a_broker_that_cannot_hold_tasks_queues_nothing_for_later():
    assert not enqueue("runs.tasks.fire_timer", "later", at=timezone.now() + timedelta(minutes=5))


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_an_empty_poll_is_one_plain_statement_not_the_orm_brokers_query():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert get_broker().dequeue() is None

    assert len(queries) == 1 and queries[0]["sql"].startswith("SELECT 1 FROM")


def timed_empty_poll(broker) -> float:
    started = time.monotonic()
    assert broker.dequeue() is None
    return time.monotonic() - started


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_polls_slow_down_after_a_quiet_spell_and_speed_up_when_a_task_comes(settings):
    settings.QUEUE_IDLE_AFTER_SECONDS, settings.QUEUE_IDLE_POLL_SECONDS = 0.5, 0.4
    broker = get_broker()
    broker.last_task_at = time.monotonic() - 1  # quiet for a second

    quiet = timed_empty_poll(broker)
    broker.enqueue("payload")
    (task_id, _), = broker.dequeue()
    broker.acknowledge(task_id)
    busy = timed_empty_poll(broker)

    assert quiet >= 0.4 and busy < 0.2
