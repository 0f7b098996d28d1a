"""Each tenant's events form one hash chain: seq 1..n, each event pointing at the hash of the one before,
linked by the sequencer after the transactions that wrote them (sealing: test_sequencer.py)."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.db import transaction

from agentops.audit.models import GENESIS_HASH, AuditEvent
from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor, audit_append_all, audit_prepare, audit_record
from agentops.audit.verify import audit_chain_verify


def test_each_event_points_at_the_hash_of_the_one_before(tenant, record):
    record(tenant, 4)

    events = list(AuditEvent.objects.filter(tenant=tenant).order_by("seq"))

    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


def test_two_tenants_have_independent_chains(tenant, other_tenant, record):
    record(tenant, 1)
    record(other_tenant, 1)
    record(tenant, 1)

    ours = list(AuditEvent.objects.filter(tenant=tenant).values_list("seq", "prev_hash"))
    theirs = list(AuditEvent.objects.filter(tenant=other_tenant).values_list("seq", "prev_hash"))

    assert [seq for seq, _ in ours] == [1, 2] and [seq for seq, _ in theirs] == [1]
    assert ours[0][1] == theirs[0][1] == GENESIS_HASH
    assert audit_chain_verify(tenant) == (2, None) and audit_chain_verify(other_tenant) == (1, None)


def test_events_appended_together_extend_each_tenants_chain_in_order(tenant, other_tenant, record):
    record(tenant, 1)
    batch = [audit_prepare(tenant=t, action="test.batched", actor=Actor.system("test"), data={"i": i})
             for i, t in enumerate([tenant, other_tenant, tenant, tenant])]

    with transaction.atomic():
        appended = audit_append_all(batch)
    audit_seal()

    sealed = [AuditEvent.objects.get(pk=e.pk) for e in appended]
    assert [(e.tenant_id, e.seq) for e in sealed] == [(tenant.pk, 2), (other_tenant.pk, 1), (tenant.pk, 3), (tenant.pk, 4)]
    ours = list(AuditEvent.objects.filter(tenant=tenant).order_by("seq").values_list("data", flat=True))
    assert ours == [{"i": 0}, {"i": 0}, {"i": 2}, {"i": 3}]
    assert audit_chain_verify(tenant) == (4, None) and audit_chain_verify(other_tenant) == (1, None)


def test_the_stored_hash_matches_the_content_read_back_from_the_database(tenant, operator):
    event = audit_record(
        tenant=tenant, action="refund.approved", actor=Actor.for_user(operator), target=tenant,
        data={"amount": Decimal("12.50"), "at": datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc), "note": "ünï"},
        changes={"limit": [None, 1.5]},
    )
    audit_seal()

    stored = AuditEvent.objects.get(pk=event.pk)

    assert stored.compute_signature() == stored.signature == event.signature
    assert stored.compute_hash() == stored.hash
    assert stored.data == {"amount": "12.50", "at": "2024-05-01T12:30:00Z", "note": "ünï"}


def test_numbers_that_postgresql_would_rewrite_still_hash_the_same_after_a_round_trip(tenant):
    data = {"huge": 1e20, "astronomic": 1.5e300, "negative_zero": -0.0, "tiny": 1e-07, "plain": 0.1, "int": 7}

    event = audit_record(tenant=tenant, action="test.numbers", actor=Actor.system("test"), data=data)
    audit_seal()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.compute_signature() == stored.signature == event.signature
    assert stored.compute_hash() == stored.hash
    assert stored.data["huge"] == 10**20 and stored.data["plain"] == 0.1
    assert audit_chain_verify(tenant) == (1, None)


def test_an_event_records_its_actor_and_target(tenant, operator):
    event = audit_record(tenant=tenant, action="tenant.renamed", actor=Actor.for_user(operator), target=tenant)

    stored = AuditEvent.objects.get(pk=event.pk)

    assert (stored.actor_type, stored.actor_id, stored.actor_label) == ("user", str(operator.pk), "olivia")
    assert (stored.target_type, stored.target_id, stored.target_label) == ("tenancy.tenant", str(tenant.pk), "acme")


def test_an_event_written_in_a_transaction_that_rolls_back_leaves_no_trace(tenant, record):
    record(tenant, 2)

    with pytest.raises(RuntimeError), transaction.atomic():
        record(tenant, 1, action="test.rolled_back")
        raise RuntimeError("the change this event recorded failed")
    record(tenant, 1, action="test.after")

    assert not AuditEvent.objects.filter(action="test.rolled_back").exists()
    assert AuditEvent.objects.get(action="test.after").seq == 3
    assert audit_chain_verify(tenant) == (3, None)


def test_a_prepared_events_hash_is_the_hash_of_its_stored_content_whatever_its_data_holds(tenant, record):
    record(tenant, 1)
    tricky = {"seq": 99, "created_at": "yesterday", "prev_hash": "}{", "nested": {"z": [1, {"b": 2, "a": "ü\"}"}]},
              "note": ',"seq":1,"target":'}

    event = audit_record(tenant=tenant, action="test.tricky", actor=Actor.system("sys"), data=tricky,
                         changes={"b": [1, 2], "a": [None, "x"]})
    audit_seal()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == tricky and stored.seq == 2
    assert stored.signature == event.signature == stored.compute_signature()
    assert stored.hash == stored.compute_hash()
    assert audit_chain_verify(tenant) == (2, None)
