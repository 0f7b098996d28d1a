"""`manage.py audit verify` passes an intact chain and names the first event that was edited, deleted,
inserted, reordered or hashed without the audit key. (Deleting the newest events: test_anchors.py.)"""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agentops.audit.keys import AuditKey, signing_key
from agentops.audit.models import AuditEvent
from tests.support.audit_tampering import plain_sha256, rehash_chain, signed_with, tamper
from tests.support import workers


def verify(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("audit", "verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_failure(*args) -> tuple[CommandError, str, str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
    return failure.value, out.getvalue(), err.getvalue()


def event_id(tenant, seq: int) -> int:
    return AuditEvent.objects.get(tenant=tenant, seq=seq).pk


def test_an_intact_chain_passes(tenant, other_tenant, record):
    record(tenant, 3)
    record(other_tenant, 2)

    out, err = verify()

    assert "tenant acme: 3 events, chain intact" in out
    assert "tenant globex: 2 events, chain intact" in out
    assert err == ""


def test_an_edited_event_is_named_as_the_first_break(tenant, record):
    record(tenant, 5)
    second, fourth = event_id(tenant, 2), event_id(tenant, 4)
    tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id IN (%s, %s)", [second, fourth])

    failure, _, err = verify_failure()

    assert failure.returncode == 1
    assert f"BROKEN tenant acme: event #2 (id {second}): content does not match its hash: edited" in err
    assert "#4" not in err


def test_an_event_inserted_with_a_plain_sha256_hash_is_named(tenant, record):
    events = record(tenant, 3)
    forged = forge(tenant, seq=4, prev_hash=events[2].hash, digest=plain_sha256)

    failure, _, err = verify_failure()

    assert f"BROKEN tenant acme: event #4 (id {forged}): content does not match its hash" in err


def test_an_event_inserted_with_a_guessed_key_is_named(tenant, record):
    events = record(tenant, 3)
    guessed = AuditKey(signing_key().id, b"not-the-audit-key")
    forged = forge(tenant, seq=4, prev_hash=events[2].hash, digest=signed_with(guessed))

    _, _, err = verify_failure()

    assert f"BROKEN tenant acme: event #4 (id {forged}): content does not match its hash" in err


def test_a_chain_recomputed_with_plain_sha256_breaks_at_its_first_event(tenant, record):
    record(tenant, 3)
    rehash_chain(tenant, plain_sha256)

    _, _, err = verify_failure()

    assert f"BROKEN tenant acme: event #1 (id {event_id(tenant, 1)}): content does not match its hash" in err


def test_a_chain_recomputed_with_another_key_breaks_at_its_first_event(tenant, record):
    record(tenant, 3)
    rehash_chain(tenant, signed_with(AuditKey(signing_key().id, b"another key")))

    _, _, err = verify_failure()

    assert "BROKEN tenant acme: event #1" in err and "content does not match its hash" in err


def test_an_event_signed_with_an_unknown_key_is_named(tenant, record):
    record(tenant, 2)
    tamper("UPDATE audit_auditevent SET key_id = 'retired' WHERE id = %s", [event_id(tenant, 2)])

    _, _, err = verify_failure()

    assert "event #2" in err and "signed with an unknown audit key 'retired'" in err


def test_two_reordered_events_are_named(tenant, record):
    record(tenant, 4)
    second, third = event_id(tenant, 2), event_id(tenant, 3)
    # Swap their places (through a free seq: (tenant, seq) is unique).
    tamper("UPDATE audit_auditevent SET seq = 1000 WHERE id = %s", [second])
    tamper("UPDATE audit_auditevent SET seq = 2 WHERE id = %s", [third])
    tamper("UPDATE audit_auditevent SET seq = 3 WHERE id = %s", [second])

    _, _, err = verify_failure()

    assert f"BROKEN tenant acme: event #2 (id {third}): does not follow the event before it: inserted or reordered" in err


def test_a_deleted_event_breaks_the_chain_at_the_event_after_it(tenant, record):
    record(tenant, 3)
    third = event_id(tenant, 3)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [event_id(tenant, 2)])

    failure, _, err = verify_failure()

    assert failure.returncode == 1
    assert f"BROKEN tenant acme: event #3 (id {third}): expected #2: an event is missing" in err


def forge(tenant, *, seq: int, prev_hash: str, digest) -> int:
    """Insert an event at `seq` after `prev_hash`, hashed with `digest`; its id."""
    forged = AuditEvent(tenant_id=tenant.pk, seq=seq, created_at=timezone.now(), actor_type="system",
                        actor_label="forger", action="test.forged", data={}, changes={},
                        key_id=signing_key().id, prev_hash=prev_hash)
    forged.hash = digest(forged)
    tamper(
        "INSERT INTO audit_auditevent (tenant_id, seq, created_at, actor_type, actor_id, actor_label, action,"
        " target_type, target_id, target_label, data, changes, key_id, signature, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, '', %s, %s, '', '', '', %s, %s, %s, '', %s, %s)",
        [tenant.pk, seq, forged.created_at, "system", "forger", "test.forged", json.dumps({}), json.dumps({}),
         forged.key_id, forged.prev_hash, forged.hash],
    )
    return event_id(tenant, seq)


def test_an_inserted_event_is_named(tenant, record):
    events = record(tenant, 3)
    # A forger who holds the key even: a well-signed event that claims to follow #2, appended as #4.
    inserted = forge(tenant, seq=4, prev_hash=events[1].hash, digest=lambda event: event.compute_hash())

    failure, _, err = verify_failure()

    assert failure.returncode == 1
    assert f"BROKEN tenant acme: event #4 (id {inserted}): does not follow the event before it" in err


def test_a_broken_chain_leaves_the_other_tenants_reported_intact(tenant, other_tenant, record):
    record(tenant, 2)
    record(other_tenant, 2)
    tamper("UPDATE audit_auditevent SET data = %s WHERE id = %s", [json.dumps({"i": 99}), event_id(tenant, 1)])

    _, out, err = verify_failure()

    assert "BROKEN tenant acme: event #1" in err
    assert "tenant globex: 2 events, chain intact" in out


def test_verifying_one_tenant_ignores_a_break_in_another(tenant, other_tenant, record):
    record(tenant, 2)
    record(other_tenant, 2)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [event_id(tenant, 1)])

    out, _ = verify("--tenant", "globex")

    assert "tenant globex: 2 events, chain intact" in out and "acme" not in out


def test_verifying_an_unknown_tenant_is_refused(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        verify("--tenant", "nope")


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_0_on_an_intact_chain_and_1_on_a_broken_one(tenant, record):
    record(tenant, 3)

    def run_verify():
        return subprocess.run(
            [sys.executable, "manage.py", "audit", "verify"], cwd=workers.ROOT, capture_output=True, text=True,
            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings",
                 "DATABASE_URL": workers.test_database_url()},
            timeout=120,
        )

    intact = run_verify()
    tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id = %s", [event_id(tenant, 2)])
    broken = run_verify()

    assert intact.returncode == 0, intact.stderr
    assert "tenant acme: 3 events, chain intact" in intact.stdout
    assert broken.returncode == 1
    assert "BROKEN tenant acme: event #2" in broken.stderr
