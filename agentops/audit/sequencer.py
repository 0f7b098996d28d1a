"""The sequencer: links pending audit events into their tenants' chains, shortly after the
transactions that wrote them commit.

Why a sequencer. Chained at write time, every transaction that records an event had to read its
tenant's chain tail and hold it until commit, so one tenant's writes ran one at a time, however
many workers and machines there were. Sharding the chain (N chains per tenant) would only divide
that wait by N, and make verification, anchors and purges deal with N heads; a sequencer removes
the wait from the writers altogether, as transparency logs do (Trillian's sequencer, with a
bounded merge delay). Writers insert events pending (content, time, signature: an HMAC of the
content, so an edit before sealing is found); one sequencer per tenant at a time gives the
committed pending events, in the order of their ids, their `seq`, `prev_hash` and `hash`. An event
whose transaction commits after a later id was sealed takes the next place: the chain records the
order in which events became visible, which is the order the chain needs to be stable.

Where it runs: a thread in each worker process (runs.recovery starts it, next to run recovery),
every AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS; and on demand before `audit verify`, `audit anchor`,
and in `audit purge` and `audit seal`. django-q2's schedules cannot run more often than once a
minute, and a task per second would fill the queue. Many processes may run it: on PostgreSQL a
transaction-scoped advisory lock per tenant, taken only by the sequencer (never by writers),
lets one of them seal a tenant while the others skip it; on SQLite the write transaction already
excludes every other writer.

Sealing is the one UPDATE the append-only triggers allow (migration 0007_unchained_events): from
NULL chain fields to values, once, with every content column unchanged.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from agentops.db import execute

from .models import GENESIS_HASH, AuditEvent

logger = logging.getLogger(__name__)

# Events sealed per transaction: a long backlog is sealed in several, so that writers on SQLite
# (where a write transaction excludes the others) never wait long behind the sequencer.
SEAL_BATCH = 2000
# The first key of PostgreSQL's two-key advisory locks: this lock's class ("AUDT"), the tenant the second.
LOCK_CLASS = 0x41554454


class SealError(Exception):
    pass


def audit_seal(*, tenant_ids=None, wait: bool = False) -> int:
    """Seal the committed pending events of every tenant (or of `tenant_ids`), each batch in a
    transaction of its own, and return how many were sealed. A tenant whose sequencer lock is held
    elsewhere is skipped, unless `wait`: then this waits for it and seals what is left."""
    total = 0
    for tenant_id in audit_pending_tenant_ids() if tenant_ids is None else tenant_ids:
        while True:
            with transaction.atomic():
                sealed = chain_seal(tenant_id, wait=wait)
            total += sealed
            if sealed < SEAL_BATCH:
                break
    return total


def audit_pending_tenant_ids() -> list[int]:
    """The tenants with pending events (read from the small pending index)."""
    pending = AuditEvent.objects.filter(seq__isnull=True).order_by("tenant_id")
    return list(pending.values_list("tenant_id", flat=True).distinct())


def chain_seal(tenant_id: int, *, wait: bool) -> int:
    """Link up to SEAL_BATCH of the tenant's pending events, oldest id first, in the caller's
    transaction, which then holds the tenant's sequencer lock until it ends. Returns how many,
    0 when the lock is held elsewhere and not `wait`.

    Stops before an event whose signature does not match its content (edited while pending, or
    signed with an unknown key): sealing it would hide the edit, and skipping it would reorder the
    chain. It stays pending and `audit verify` names it.
    """
    if not _lock(tenant_id, wait=wait):
        return 0
    seq, prev_hash = _chain_tail(tenant_id)
    sealed = []
    for event in AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=True).order_by("id")[:SEAL_BATCH]:
        if not _signature_valid(event):
            logger.error("audit event id %s of tenant %s does not match its signature: left pending, "
                         "its tenant's chain stops before it (see manage.py audit verify)", event.pk, tenant_id)
            break
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        prev_hash = event.hash = event.compute_hash()
        sealed.append((event.seq, event.prev_hash, event.hash, event.pk))
    _write(sealed)
    return len(sealed)


def _signature_valid(event: AuditEvent) -> bool:
    try:
        return bool(event.signature) and event.compute_signature() == event.signature
    except KeyError:
        return False


def _lock(tenant_id: int, *, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the IMMEDIATE write transaction already excludes every other writer
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    [taken] = execute(connection, f"SELECT {function}(%s::int4, %s::int4)", [LOCK_CLASS, tenant_id], result="one")
    return wait or taken  # pg_advisory_xact_lock returns nothing: it waits until it has the lock


def _chain_tail(tenant_id: int) -> tuple[int, str]:
    """(seq, hash) of the tenant's newest sealed event, or the genesis."""
    row = (AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=False).order_by("-seq")
           .values_list("seq", "hash").first())
    return row or (0, GENESIS_HASH)


_SEAL_SQL = (f"UPDATE {AuditEvent._meta.db_table} SET seq = %s, prev_hash = %s, hash = %s "
             "WHERE id = %s AND seq IS NULL")


def _write(sealed: list[tuple]) -> None:
    if not sealed:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_SEAL_SQL, sealed)
        if cursor.rowcount not in (-1, len(sealed)):  # never under the lock; never leave a gap
            raise SealError(f"sealed {cursor.rowcount} audit events where {len(sealed)} were pending")
