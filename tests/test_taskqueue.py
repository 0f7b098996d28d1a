"""The task queue's bookkeeping commits skip the fsync on SQLite; everything else stays durable."""

import pytest
from django.conf import settings
from django.db import connection, transaction
from django_q.brokers import get_broker
from django_q.models import OrmQ

from agentops import db
from agentops.taskqueue import DatabaseBroker

pytestmark = pytest.mark.django_db(transaction=True)

NORMAL, FULL = 1, 2


def synchronous() -> int:
    return connection.connection.execute("PRAGMA synchronous").fetchone()[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="synchronous is SQLite's")
def test_relaxed_durability_lasts_exactly_as_long_as_its_block():
    connection.ensure_connection()
    assert synchronous() == FULL

    with db.relaxed_durability(connection):
        assert synchronous() == NORMAL
    assert synchronous() == FULL

    with pytest.raises(RuntimeError), db.relaxed_durability(connection):
        raise RuntimeError("the block failed")
    assert synchronous() == FULL

    with transaction.atomic(), db.relaxed_durability(connection):  # a transaction's commit is not ours to relax
        assert synchronous() == FULL


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the Redis broker is in use")
def test_tasks_go_through_the_database_broker_and_come_out_once():
    broker = get_broker()
    assert isinstance(broker, DatabaseBroker)

    task_id = broker.enqueue("payload")
    (taken_id, payload), = broker.dequeue()
    broker.acknowledge(taken_id)

    assert (taken_id, payload) == (task_id, "payload")
    assert not OrmQ.objects.filter(pk=task_id).exists()
    if connection.vendor == "sqlite":
        assert synchronous() == FULL
