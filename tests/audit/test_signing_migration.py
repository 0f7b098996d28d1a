"""Migration 0005 signs the chains written before the audit key (plain SHA-256), and refuses to sign
a chain that is already broken."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agentops.audit.models import AuditEvent
from agentops.audit.verify import audit_chain_verify
from tests.support.audit_tampering import tamper

signing = importlib.import_module("agentops.audit.migrations.0005_keyed_chain_and_triggers")
BEFORE_KEYS = "0004_auditevent_key_id"
LATEST = "0007_unchained_events"


def migrate(target: str) -> None:
    MigrationExecutor(connection).migrate([("audit", target)])


def chain(tenant) -> list[tuple[str, str, str]]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("seq").values_list("key_id", "prev_hash", "hash"))


@pytest.mark.django_db(transaction=True)
def test_plain_chains_are_signed_and_verify(tenant, other_tenant, record):
    record(tenant, 3)
    record(other_tenant, 2)
    signed = chain(tenant), chain(other_tenant)
    try:
        migrate(BEFORE_KEYS)
        plain = list(AuditEvent.objects.filter(tenant=tenant).order_by("seq").defer("signature"))
        assert [e.hash for e in plain] == [signing.plain_hash(e) for e in plain]
        assert {e.key_id for e in plain} == {""}
    finally:
        migrate(LATEST)

    assert (chain(tenant), chain(other_tenant)) == signed
    assert audit_chain_verify(tenant) == (3, None) and audit_chain_verify(other_tenant) == (2, None)


@pytest.mark.django_db(transaction=True)
def test_a_broken_plain_chain_is_not_signed(tenant, record):
    record(tenant, 3)
    second = AuditEvent.objects.get(tenant=tenant, seq=2).pk
    migrate(BEFORE_KEYS)
    try:
        tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id = %s", [second])

        with pytest.raises(RuntimeError, match=rf"broken at event #2 \(id {second}\); it was not signed"):
            migrate(LATEST)
    finally:
        tamper("UPDATE audit_auditevent SET action = 'test.happened' WHERE id = %s", [second])
        migrate(LATEST)

    assert audit_chain_verify(tenant) == (3, None)
