"""The task queue on the database: django-q2's ORM broker, with one difference.

Taking a task and acknowledging it are commits whose loss is harmless: the task is delivered
again, and every task here is idempotent (a run task is a wake-up call — a run already taken or
finished is left alone; the sweeper re-reads the database). So they are made with relaxed
durability (agentops.db.relaxed_durability): on SQLite they skip the fsync that would otherwise be
two of every run's five. Enqueueing stays fully durable.
"""

from __future__ import annotations

from django.db import connections
from django_q.brokers.orm import ORM
from django_q.conf import Conf

from agentops import db


class DatabaseBroker(ORM):
    def dequeue(self):
        with db.relaxed_durability(connections[Conf.ORM]):
            return super().dequeue()

    def acknowledge(self, task_id):
        with db.relaxed_durability(connections[Conf.ORM]):
            return super().acknowledge(task_id)
