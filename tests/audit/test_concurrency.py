"""Writers of one tenant never wait for each other on the audit log: they insert pending events,
and the sequencer links them into one unbroken chain afterwards (agentops.audit.sequencer)."""

import threading
import time

import pytest
from django.db import connection, transaction

from agentops.audit.models import AuditEvent
from agentops.audit.sequencer import audit_seal, chain_seal
from agentops.audit.services import Actor, audit_record
from agentops.audit.verify import audit_chain_verify

EVENTS_PER_WRITER = 50
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="SQLite lets one writer at a time in the whole database")


def in_thread(work, errors: list) -> threading.Thread:
    """`work` in a started thread with its own connection; an exception lands in `errors`."""
    def run():
        try:
            work()
        except BaseException as exc:  # reported by the test: an exception in a thread would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def record(tenant, name: str, i: int = 0):
    return audit_record(tenant=tenant, action="test.concurrent", actor=Actor.system(name), data={"i": i})


def writer_holding_its_transaction(tenant, until: threading.Event, errors: list) -> threading.Thread:
    """A thread that records an event as "a" and keeps its transaction open until `until` is set
    (30 s at most); returned once the event is written."""
    wrote = threading.Event()

    def write():
        with transaction.atomic():
            record(tenant, "a")
            wrote.set()
            until.wait(timeout=30)

    thread = in_thread(write, errors)
    assert wrote.wait(timeout=30)
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_threads_writing_at_once_leave_one_unbroken_chain_in_the_order_of_insertion(tenant):
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(name: str):
        start.wait(timeout=10)
        for i in range(EVENTS_PER_WRITER):
            record(tenant, name, i)

    writers = [in_thread(lambda name=name: write(name), errors) for name in ("left", "right")]
    for writer in writers:
        writer.join(timeout=120)
    audit_seal()

    assert errors == []
    in_insertion_order = AuditEvent.objects.filter(tenant=tenant).order_by("id")
    assert list(in_insertion_order.values_list("seq", flat=True)) == list(range(1, 101))
    assert audit_chain_verify(tenant) == (100, None)
    by_writer = {label: AuditEvent.objects.filter(actor_label=label).count() for label in ("left", "right")}
    assert by_writer == {"left": EVENTS_PER_WRITER, "right": EVENTS_PER_WRITER}


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_commits_while_another_writer_of_the_tenant_holds_its_transaction_open(tenant):
    b_committed = threading.Event()
    errors: list[BaseException] = []
    a = writer_holding_its_transaction(tenant, b_committed, errors)  # open until B is through (or gives up)
    b = in_thread(lambda: (record(tenant, "b"), b_committed.set()), errors)
    b.join(timeout=5)

    assert b_committed.is_set(), "writer B waited for writer A's transaction"
    a.join(timeout=30)
    assert errors == []


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_event_whose_transaction_commits_later_takes_the_next_place_in_the_chain(tenant):
    sealed_without_a = threading.Event()
    errors: list[BaseException] = []
    a = writer_holding_its_transaction(tenant, sealed_without_a, errors)
    record(tenant, "b")  # a later id than A's, committed first
    audit_seal()
    sealed_without_a.set()
    a.join(timeout=30)
    audit_seal()

    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("actor_label", "seq")) == [("b", 1), ("a", 2)]
    assert audit_chain_verify(tenant) == (2, None)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_sequencer_skips_a_tenant_another_sequencer_is_sealing(tenant):
    record(tenant, "writer")
    locked, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_sequencer():
        with transaction.atomic():
            chain_seal(tenant.pk, wait=True)  # holds the tenant's sequencer lock until its commit
            locked.set()
            done.wait(timeout=30)

    other = in_thread(other_sequencer, errors)
    assert locked.wait(timeout=30)
    record(tenant, "writer")  # a writer is not held up by the sequencer either
    started = time.monotonic()
    skipped = audit_seal(tenant_ids=[tenant.pk])
    done.set()
    other.join(timeout=30)

    assert skipped == 0 and time.monotonic() - started < 5
    assert audit_seal(tenant_ids=[tenant.pk], wait=True) == 1
    assert audit_chain_verify(tenant) == (2, None) and errors == []
