"""Events are written pending (content, time, signature) and the sequencer links them into their
tenant's chain in the order of insertion; an edit of a pending event, before or after sealing, is
found; events left pending too long show a sequencer that stopped."""

import json
import re

import pytest
from django.db import DatabaseError, connection, transaction

from agentops.audit.anchors import anchor_heads
from agentops.audit.models import GENESIS_HASH, AuditEvent
from agentops.audit.sequencer import audit_seal
from agentops.audit.verify import audit_chain_report, audit_chain_verify
from tests.support.audit_command import audit, verify_failure
from tests.support.audit_tampering import tamper


def stored(event) -> AuditEvent:
    return AuditEvent.objects.get(pk=event.pk)


def test_an_event_is_written_pending_with_its_signature(tenant, record):
    [event] = record(tenant, 1, seal=False)

    pending = stored(event)

    assert (pending.seq, pending.prev_hash, pending.hash) == (None, None, None)
    assert pending.signature == pending.compute_signature() == event.signature
    assert pending.chain_position == "pending"


def test_the_sequencer_links_pending_events_in_the_order_they_were_inserted(tenant, other_tenant, record):
    record(tenant, 2)
    events = record(tenant, 3, seal=False) + record(other_tenant, 1, seal=False)

    assert audit_seal() == 4

    ours = [stored(event) for event in events[:3]]
    assert [e.seq for e in ours] == [3, 4, 5] and [e.data for e in ours] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert ours[0].prev_hash == AuditEvent.objects.get(tenant=tenant, seq=2).hash
    assert [e.prev_hash for e in ours[1:]] == [e.hash for e in ours[:-1]]
    assert (stored(events[3]).seq, stored(events[3]).prev_hash) == (1, GENESIS_HASH)
    assert audit_chain_verify(tenant) == (5, None) and audit_chain_verify(other_tenant) == (1, None)


def test_sealing_again_changes_nothing(tenant, record):
    record(tenant, 2)
    before = list(AuditEvent.objects.values_list("seq", "hash"))

    assert audit_seal() == 0

    assert list(AuditEvent.objects.values_list("seq", "hash")) == before


def test_verify_seals_the_pending_events_first(tenant, record):
    record(tenant, 2, seal=False)

    out, err = audit("verify")

    assert "tenant acme: 2 events, chain intact" in out and err == ""
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2]


def test_verify_without_sealing_counts_and_checks_the_pending_events(tenant, record):
    record(tenant, 1)
    record(tenant, 2, seal=False)

    out, _ = audit("verify", "--no-seal")

    assert "tenant acme: 3 events (2 pending), chain intact" in out
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2


def test_the_seal_command_links_every_pending_event(tenant, other_tenant, record):
    record(tenant, 2, seal=False)
    record(other_tenant, 1, seal=False)

    out, _ = audit("seal")

    assert "3 events sealed" in out and not AuditEvent.objects.filter(seq__isnull=True).exists()


def test_an_edited_pending_event_is_named_and_never_sealed(tenant, record):
    record(tenant, 1)
    edited, after = record(tenant, 2, seal=False)
    tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id = %s", [edited.pk])

    assert audit_seal() == 0  # the chain stops before it: sealing it would hide the edit

    err = verify_failure()
    assert f"BROKEN tenant acme: pending event (id {edited.pk}): content does not match its signature" in err
    assert stored(edited).seq is None and stored(after).seq is None


def test_a_pending_event_inserted_without_a_signature_is_named(tenant, record):
    [event] = record(tenant, 1, seal=False)
    tamper("UPDATE audit_auditevent SET signature = '' WHERE id = %s", [event.pk])

    err = verify_failure("--no-seal")

    assert f"pending event (id {event.pk}): has no signature" in err


def test_an_event_edited_while_pending_and_then_sealed_is_named(tenant, record):
    # Someone who seals it behind the sequencer's back, with the key even: its signature still fails.
    [event] = record(tenant, 1, seal=False)
    tamper("UPDATE audit_auditevent SET data = %s WHERE id = %s", [json.dumps({"i": 99}), event.pk])
    forged = stored(event)
    forged.seq, forged.prev_hash = 1, GENESIS_HASH
    tamper("UPDATE audit_auditevent SET seq = 1, prev_hash = %s, hash = %s WHERE id = %s",
           [GENESIS_HASH, forged.compute_hash(), event.pk])

    err = verify_failure()

    assert f"event #1 (id {event.pk}): content does not match its signature" in err


def test_events_left_pending_longer_than_the_delay_are_reported_late(tenant, record, settings):
    record(tenant, 2, seal=False)
    settings.AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS = 0

    err = verify_failure()

    assert "LATE   tenant acme: 2 events pending for more than 0 s" in err and "is the sequencer running" in err
    assert audit_chain_report(tenant).pending == 0  # then sealed, and verified


def test_anchors_cover_only_sealed_events(tenant, record):
    record(tenant, 2)
    record(tenant, 1, seal=False)

    [head] = anchor_heads()

    assert (head.seq, head.hash) == (2, AuditEvent.objects.get(seq=2).hash)


def test_the_database_lets_a_pending_event_be_sealed_once(tenant, record):
    [event] = record(tenant, 1, seal=False)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET seq = 1, prev_hash = 'p', hash = 'h' WHERE id = %s", [event.pk])

    assert (stored(event).seq, stored(event).hash) == (1, "h")


@pytest.mark.parametrize("assignments", [
    "seq = 7", "hash = 'forged'", "prev_hash = 'forged'", "seq = NULL, prev_hash = NULL, hash = NULL",
    "action = 'test.forged'", "signature = ''",
])
def test_the_database_refuses_to_change_a_sealed_event(tenant, record, assignments):
    [event] = record(tenant, 1)

    with pytest.raises(DatabaseError, match=r"append-only \(UPDATE refused"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(f"UPDATE audit_auditevent SET {assignments} WHERE id = %s", [event.pk])

    assert (stored(event).seq, stored(event).hash, stored(event).action) == (1, event.hash, "test.happened")


@pytest.mark.parametrize("assignments", [
    "action = 'test.forged'", "data = '{}'", "key_id = 'other'", "signature = 'forged'",
    "created_at = created_at, actor_label = 'forger'",
    "seq = 1, prev_hash = 'p', hash = 'h', action = 'test.forged'",  # sealing with an edit
    "seq = 1, hash = 'h'",  # half a seal
])
def test_the_database_refuses_to_change_the_content_of_a_pending_event(tenant, record, assignments):
    [event] = record(tenant, 1, seal=False)

    with pytest.raises(DatabaseError, match=r"append-only \(UPDATE refused"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(f"UPDATE audit_auditevent SET {assignments} WHERE id = %s", [event.pk])

    assert stored(event).seq is None and stored(event).action == "test.happened"


def test_the_admin_lists_pending_events_with_the_sealed_ones_newest_first(admin_client, tenant, record):
    record(tenant, 1, action="test.sealed")
    record(tenant, 1, action="test.waiting", seal=False)

    page = admin_client.get("/admin/audit/auditevent/").content.decode()

    assert page.index("test.waiting") < page.index("test.sealed")
    positions = re.findall(r'<td class="field-chain_position">([^<]*)</td>', page)
    assert positions == ["pending", "#1"]
