"""The audit key: every event is an HMAC-SHA256 with a key from AGENTOPS_AUDIT_KEYS (or derived
from SECRET_KEY), names its key, and keys rotate without breaking the chains they signed."""

import hashlib
import hmac

import pytest
from django.test import override_settings

from agentops.audit.checks import audit_keys_check
from agentops.audit.keys import DERIVED_KEY_ID, AuditKeyError, parse_keys
from agentops.audit.models import AuditEvent, canonical_json
from agentops.audit.verify import audit_chain_verify

OLD = "k2025:" + "o" * 40
NEW = "k2026:" + "n" * 40


def test_an_event_is_signed_with_the_first_configured_key_and_names_it(tenant, record):
    with override_settings(AGENTOPS_AUDIT_KEYS=[NEW, OLD]):
        [event] = record(tenant, 1)

    stored = AuditEvent.objects.get(pk=event.pk)
    expected = hmac.new(b"n" * 40, canonical_json(stored.content()).encode(), hashlib.sha256).hexdigest()
    assert stored.key_id == "k2026" and stored.hash == expected
    assert stored.content()["key"] == "k2026"


def test_events_signed_before_a_rotation_still_verify(tenant, record):
    with override_settings(AGENTOPS_AUDIT_KEYS=[OLD]):
        record(tenant, 2)

    with override_settings(AGENTOPS_AUDIT_KEYS=[NEW, OLD]):
        record(tenant, 2)
        assert audit_chain_verify(tenant) == (4, None)

    assert list(AuditEvent.objects.order_by("seq").values_list("key_id", flat=True)) == ["k2025"] * 2 + ["k2026"] * 2


def test_events_of_a_key_no_longer_configured_fail_verification(tenant, record):
    with override_settings(AGENTOPS_AUDIT_KEYS=[OLD]):
        record(tenant, 1)

    with override_settings(AGENTOPS_AUDIT_KEYS=[NEW]):
        checked, chain_break = audit_chain_verify(tenant)

    assert chain_break.seq == 1 and chain_break.reason == "signed with an unknown audit key 'k2025'"


def test_a_key_reusing_an_id_with_another_secret_fails_verification(tenant, record):
    with override_settings(AGENTOPS_AUDIT_KEYS=[OLD]):
        record(tenant, 1)

    with override_settings(AGENTOPS_AUDIT_KEYS=["k2025:" + "x" * 40]):
        checked, chain_break = audit_chain_verify(tenant)

    assert "content does not match its hash" in chain_break.reason


def test_without_configured_keys_a_key_derived_from_secret_key_signs(tenant, record):
    with override_settings(AGENTOPS_AUDIT_KEYS=[]):
        [event] = record(tenant, 1)
        assert audit_chain_verify(tenant) == (1, None)

    assert event.key_id == DERIVED_KEY_ID
    with override_settings(AGENTOPS_AUDIT_KEYS=[NEW]):  # configured later: what it signed still verifies
        assert audit_chain_verify(tenant) == (1, None)
    with override_settings(AGENTOPS_AUDIT_KEYS=[], SECRET_KEY="another-secret-key"):
        assert "content does not match its hash" in audit_chain_verify(tenant)[1].reason


@pytest.mark.parametrize("entries, problem", [
    (["nocolon"], "entry 1 is not `id:secret`"),
    (["a:", "b:x"], "entry 1 is not `id:secret`"),
    (["a:x", "a:y"], "entry 2: key id 'a' is too long, repeated or reserved"),
    ([f"{DERIVED_KEY_ID}:x"], "reserved"),
    (["k" * 33 + ":x"], "too long"),
])
def test_malformed_keys_are_refused(entries, problem):
    with pytest.raises(AuditKeyError, match=problem):
        parse_keys(entries)


def test_a_secret_may_hold_colons():
    [key] = parse_keys(["k1:a:b:c"])

    assert (key.id, key.secret) == ("k1", b"a:b:c")


def check_ids(**settings) -> list[str]:
    with override_settings(**settings):
        return [message.id for message in audit_keys_check(None)]


def test_the_system_check_warns_when_production_runs_on_the_derived_key():
    assert check_ids(AGENTOPS_AUDIT_KEYS=[], DEBUG=False) == ["audit.W001"]
    assert check_ids(AGENTOPS_AUDIT_KEYS=[], DEBUG=True) == []
    assert check_ids(AGENTOPS_AUDIT_KEYS=[NEW], DEBUG=False) == []


def test_the_system_check_refuses_malformed_keys_and_warns_of_short_ones():
    assert check_ids(AGENTOPS_AUDIT_KEYS=["nocolon"]) == ["audit.E001"]
    assert check_ids(AGENTOPS_AUDIT_KEYS=["k1:short"]) == ["audit.W002"]
