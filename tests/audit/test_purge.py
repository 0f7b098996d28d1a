"""A retention purge deletes a tenant's oldest events through one path, `manage.py audit purge`,
which records itself in the chain with the chain's new base: verification still passes after it."""

import pytest
from django.core.management import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agentops.audit.models import PURGE_ACTION, AuditEvent
from agentops.audit.services import Actor, AuditPurgeError, audit_purge
from agentops.audit.verify import audit_chain_verify
from tests.support.audit_command import audit
from tests.support.audit_tampering import tamper


def seqs(tenant) -> list[int]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("seq").values_list("seq", flat=True))


@pytest.fixture
def purged_three(tenant, record):
    """Five events, the first three purged: the purge is event #6."""
    first = record(tenant, 3)
    cutoff = timezone.now()
    record(tenant, 2)
    return first, audit_purge(tenant=tenant, before=cutoff, actor=Actor.system("test"))


def test_a_purge_deletes_the_events_before_the_date_and_keeps_the_rest(tenant, purged_three):
    assert seqs(tenant) == [4, 5, 6]


def test_the_purge_is_audited_with_the_chains_new_base(tenant, purged_three):
    first, purge = purged_three

    stored = AuditEvent.objects.get(tenant=tenant, action=PURGE_ACTION)

    assert stored.pk == purge.pk and stored.seq == 6 and stored.actor_label == "test"
    assert stored.data["count"] == 3
    assert (stored.data["through_seq"], stored.data["through_hash"]) == (3, first[-1].hash)


def test_the_chain_verifies_after_a_purge(tenant, purged_three):
    assert audit_chain_verify(tenant) == (3, None)

    out, err = audit("verify")
    assert "ok     tenant acme: 3 events (#4–#6: purged through #3), chain intact" in out and err == ""


def test_a_second_purge_moves_the_base_on(tenant, purged_three, record):
    cutoff = timezone.now()
    record(tenant, 1)

    second = audit_purge(tenant=tenant, before=cutoff, actor=Actor.system("test"))

    assert seqs(tenant) == [7, 8]
    assert (second.data["count"], second.data["through_seq"]) == (3, 6)
    assert audit_chain_verify(tenant) == (2, None)


def test_a_purge_of_every_event_leaves_the_purge_event_as_the_chain(tenant, record):
    record(tenant, 2)

    audit_purge(tenant=tenant, before=timezone.now(), actor=Actor.system("test"))
    record(tenant, 1)

    assert seqs(tenant) == [3, 4]
    assert audit_chain_verify(tenant) == (2, None)


def test_a_purge_leaves_other_tenants_alone(tenant, other_tenant, record):
    record(other_tenant, 2)
    record(tenant, 2)

    audit_purge(tenant=tenant, before=timezone.now(), actor=Actor.system("test"))

    assert seqs(other_tenant) == [1, 2]
    assert audit_chain_verify(other_tenant) == (2, None)


def test_a_purge_with_nothing_before_the_date_is_refused_and_records_nothing(tenant, record):
    cutoff = timezone.now()
    record(tenant, 2)

    with pytest.raises(AuditPurgeError, match="no audit events before"):
        audit_purge(tenant=tenant, before=cutoff, actor=Actor.system("test"))

    assert seqs(tenant) == [1, 2]


def test_deletion_is_refused_again_once_the_purge_is_over(tenant, purged_three):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE tenant_id = %s", [tenant.pk])

    assert seqs(tenant) == [4, 5, 6]


def test_a_purge_that_fails_deletes_nothing_and_records_nothing(tenant, record, monkeypatch):
    record(tenant, 3)
    monkeypatch.setattr("agentops.audit.services._PURGE_SQL", "DELETE FROM audit_auditevent WHERE id = 0 AND %s < %s")

    with pytest.raises(AuditPurgeError, match="deleted 0 events where 3 were counted"):
        audit_purge(tenant=tenant, before=timezone.now(), actor=Actor.system("test"))

    assert seqs(tenant) == [1, 2, 3]


def test_oldest_events_deleted_without_the_purge_path_break_the_chain(tenant, record):
    record(tenant, 3)
    tamper("DELETE FROM audit_auditevent WHERE tenant_id = %s AND seq <= 2", [tenant.pk])

    checked, chain_break = audit_chain_verify(tenant)

    assert chain_break.seq == 3 and chain_break.reason == "expected #1: an event is missing"


def test_a_purge_event_forged_without_the_key_breaks_the_chain(tenant, record):
    events = record(tenant, 3)
    tamper("DELETE FROM audit_auditevent WHERE tenant_id = %s AND seq <= 2", [tenant.pk])
    tamper("UPDATE audit_auditevent SET action = %s, data = %s WHERE id = %s",
           [PURGE_ACTION, f'{{"through_seq": 2, "through_hash": "{events[1].hash}", "count": 2}}', events[2].pk])

    checked, chain_break = audit_chain_verify(tenant)

    assert chain_break.seq == 3 and "content does not match its hash" in chain_break.reason


def test_the_purge_command_purges_and_reports(tenant, record):
    record(tenant, 2)

    out, _ = audit("purge", "--tenant", "acme", "--before", "2999-01-01")

    assert "purged tenant acme: 2 events through #2, recorded as event #3" in out
    assert seqs(tenant) == [3]
    assert AuditEvent.objects.get(seq=3).actor_label == "manage.py audit purge"


@pytest.mark.parametrize("before, message", [
    ("last tuesday", "is not a date"),
    ("2026-13-01", "is not a date"),
    ("2000-01-01", r"has no audit events before 2000-01-01T00:00:00\+00:00"),
])
def test_the_purge_command_refuses_bad_input_readably(tenant, record, before, message):
    record(tenant, 1)

    with pytest.raises(CommandError, match=message):
        audit("purge", "--tenant", "acme", "--before", before)

    assert seqs(tenant) == [1]


def test_the_purge_command_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        audit("purge", "--tenant", "nope", "--before", "2999-01-01")


def test_a_purge_is_refused_while_a_tampered_pending_event_blocks_the_chain(tenant, record):
    record(tenant, 2)
    [pending] = record(tenant, 1, seal=False)
    tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id = %s", [pending.pk])

    with pytest.raises(AuditPurgeError, match="fails its signature"):
        audit_purge(tenant=tenant, before=timezone.now(), actor=Actor.system("test"))

    assert AuditEvent.objects.filter(tenant=tenant).count() == 3
    assert not AuditEvent.objects.filter(action=PURGE_ACTION).exists()
