"""The task queue on the database: django-q2's ORM broker, with three differences.

A task is written in the caller's transaction (`enqueue`): it becomes visible to workers exactly
when the changes it is about do, and disappears with them on a rollback. Sending it after the
commit instead, as a broker on another system must, costs a second commit and leaves a moment in
which a crash loses the task (the sweeper then finds the run minutes later).

A task can wait in the queue until a given time (`enqueue(..., at=…)`): the ORM broker hands out
tasks whose `lock` time has passed, and a new task's lock is simply set to that time. Timers use
it to wake their run when they are due instead of at the next sweep.

A cluster asks for work every `Q_CLUSTER["poll"]` seconds (50 times a second by default, so that
a new run starts within milliseconds), and every QUEUE_IDLE_POLL_SECONDS once it has found none
for QUEUE_IDLE_AFTER_SECONDS. An empty poll is one plain statement asking whether any task is
due, not the ORM broker's query (a twentieth of its cost). An idle cluster thus costs a fraction of
a percent of a core instead of about 4% (bench/idle.py).

Taking a task and acknowledging it are commits whose loss is harmless: the task is delivered
again, and every task here is idempotent (a run task is a wake-up call — a run already taken or
finished is left alone; the sweeper re-reads the database). So they are made with relaxed
durability (agentops.db.relaxed_durability): on SQLite they skip the fsync. Enqueueing is as
durable as the transaction it belongs to.
"""

from __future__ import annotations

from datetime import datetime
from time import monotonic, sleep

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from agentops import db


class DatabaseBroker(ORM):
    deliver_at: datetime | None = None  # set on an instance by enqueue
    last_task_at = 0.0  # monotonic time of the last poll that found a task (this process's)

    def enqueue(self, task):
        # The ORM broker's own enqueue, with the lock (the time the task may be handed out) chosen.
        return self.get_connection().create(key=self.list_key or Conf.CLUSTER_NAME, payload=task,
                                            lock=self.deliver_at or timezone.now()).pk

    def dequeue(self):
        connection = connections[Conf.ORM]
        if not self._task_due(connection):
            sleep(self._idle_poll())  # the ORM broker sleeps Conf.POLL on an empty queue
            return None
        self.last_task_at = monotonic()
        with db.relaxed_durability(connection):
            return super().dequeue()

    def _idle_poll(self) -> float:
        idle_for = monotonic() - self.last_task_at
        if settings.QUEUE_IDLE_POLL_SECONDS and idle_for > settings.QUEUE_IDLE_AFTER_SECONDS:
            return max(Conf.POLL, settings.QUEUE_IDLE_POLL_SECONDS)
        return Conf.POLL

    def _task_due(self, connection) -> bool:
        """Whether the ORM broker's query would find a task (its `lock` time passed), in one
        statement compiled once: the ORM's compilation is most of an empty poll's cost."""
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        return db.execute(connection, _due_sql(connection), [self.list_key, now], result="one") is not None

    def acknowledge(self, task_id):
        with db.relaxed_durability(connections[Conf.ORM]):
            return super().acknowledge(task_id)


def _due_sql(connection) -> str:
    quote = connection.ops.quote_name
    return (f"SELECT 1 FROM {quote(OrmQ._meta.db_table)} WHERE {quote('key')} = %s AND {quote('lock')} < %s "
            "LIMIT 1")


def enqueue(func: str, *args, at: datetime | None = None, **options) -> bool:
    """Queue `func(*args)` for the workers when the current transaction on the default database
    commits (at once outside one), not before `at` if given; `options` are django-q2's.

    Returns False, queueing nothing, when `at` is given and the broker cannot hold a task until
    then (only the database broker can): the caller falls back on the sweeper.
    """
    broker = get_broker()
    # (django-q2's sync mode runs a task inside async_task: never inside the caller's transaction.)
    if isinstance(broker, DatabaseBroker) and Conf.ORM == DEFAULT_DB_ALIAS and not Conf.SYNC:
        broker.deliver_at = at  # a time already past is handed out at once
        async_task(func, *args, broker=broker, **options)
        return True
    if at is not None:
        return False
    transaction.on_commit(lambda: async_task(func, *args, broker=broker, **options))
    return True
