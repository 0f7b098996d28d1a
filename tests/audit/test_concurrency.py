"""Concurrent writers extend one tenant's chain one after another: never a fork, never a gap."""

import threading

import pytest
from django.db import connection

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor, audit_record
from agentops.audit.verify import audit_chain_verify

EVENTS_PER_WRITER = 50


@pytest.mark.django_db(transaction=True)
def test_two_threads_writing_at_once_leave_one_unbroken_chain(tenant):
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(name: str):
        try:
            start.wait(timeout=10)
            for i in range(EVENTS_PER_WRITER):
                audit_record(tenant=tenant, action="test.concurrent", actor=Actor.system(name), data={"i": i})
        except BaseException as exc:  # reported below: an exception in a thread would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=write, args=(name,)) for name in ("left", "right")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)

    assert errors == []
    assert list(AuditEvent.objects.filter(tenant=tenant).values_list("seq", flat=True)) == list(range(1, 101))
    assert audit_chain_verify(tenant) == (100, None)
    by_writer = {label: AuditEvent.objects.filter(actor_label=label).count() for label in ("left", "right")}
    assert by_writer == {"left": EVENTS_PER_WRITER, "right": EVENTS_PER_WRITER}
