"""Walking a tenant's chain to find the first event that was edited, deleted, inserted, reordered
or signed without the audit key, and comparing it with the chain's anchors to find its newest
events deleted; then its pending events (not sealed yet, see sequencer.py), each checked against
its signature, and those left pending too long: a sequencer that stopped.

A chain starts at seq 1 after GENESIS_HASH or, once purged, after the base its latest
`audit.purged` event records (the seq and hash of the last event deleted): that event is itself
in the chain and signed, so a base cannot be forged without the key.

An export (export.py) is verified from its lines alone (`audit_file_verify`), with the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from .anchors import Anchor
from .export import read_export
from .models import GENESIS_HASH, PURGE_ACTION, AuditEvent


@dataclass(frozen=True)
class ChainBreak:
    tenant: str
    seq: int | None  # None: a pending event
    event_id: int | None
    reason: str

    def __str__(self):
        where = f"event #{self.seq}" if self.seq is not None else "pending event"
        where += f" (id {self.event_id})" if self.event_id is not None else ""
        return f"tenant {self.tenant}: {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    checked: int  # events walked, sealed and pending
    base_seq: int  # the last purged event's seq, 0 when none was
    last_seq: int  # the chain's newest event, base_seq when it has none
    anchor: Anchor | None  # the newest anchor compared
    chain_break: ChainBreak | None
    pending: int = 0  # of the events checked, those not sealed yet


@dataclass(frozen=True)
class Overdue:
    """A tenant's events left pending longer than AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS."""

    tenant_id: int
    count: int
    oldest: datetime

    def __str__(self):
        return (f"{self.count} event{'' if self.count == 1 else 's'} pending for more than "
                f"{settings.AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS:g} s (the oldest written "
                f"{self.oldest.isoformat()}): is the sequencer running (the workers)?")


def audit_chain_verify(tenant) -> tuple[int, ChainBreak | None]:
    """(events checked, first break or None), without anchors."""
    report = audit_chain_report(tenant)
    return report.checked, report.chain_break


def audit_chain_report(tenant, anchors: list[Anchor] = ()) -> ChainReport:
    """Walk the tenant's chain in order of `seq` (streamed), comparing each anchored event with its
    anchors, then the chain's end with the newest anchor; then its pending events."""
    base_seq, base_hash = _purge_base(tenant)
    anchored = {anchor.seq: anchor for anchor in anchors}
    expected_seq, expected_prev, checked = base_seq + 1, base_hash, 0
    sealed = AuditEvent.objects.filter(tenant=tenant, seq__isnull=False).order_by("seq")
    for event in sealed.iterator(chunk_size=2000):
        checked += 1
        reason = _event_problem(event, expected_seq, expected_prev, anchored.get(event.seq))
        if reason:
            return ChainReport(checked, base_seq, event.seq, None, ChainBreak(tenant.slug, event.seq, event.pk, reason))
        expected_seq, expected_prev = event.seq + 1, event.hash
    last_seq, newest = expected_seq - 1, max(anchors, key=lambda a: a.seq, default=None)
    reason = _anchor_problem(newest, last_seq, base_seq, base_hash) if newest else ""
    chain_break = ChainBreak(tenant.slug, newest.seq, None, reason) if reason else None
    pending, pending_break = _pending_report(tenant)
    return ChainReport(checked + pending, base_seq, last_seq, newest, chain_break or pending_break, pending)


def _pending_report(tenant) -> tuple[int, ChainBreak | None]:
    """(pending events checked, the first whose signature fails)."""
    checked = 0
    for event in AuditEvent.objects.filter(tenant=tenant, seq__isnull=True).order_by("id").iterator(chunk_size=2000):
        checked += 1
        reason = _signature_problem(event, required=True)
        if reason:
            return checked, ChainBreak(tenant.slug, None, event.pk, reason)
    return checked, None


def audit_overdue(tenant_ids=None) -> dict[int, Overdue]:
    """The tenants (all, or those in `tenant_ids`) with events pending longer than the sequencer's
    bounded delay (AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS), by tenant id."""
    since = timezone.now() - timedelta(seconds=settings.AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS)
    late = AuditEvent.objects.filter(seq__isnull=True, created_at__lt=since)
    if tenant_ids is not None:
        late = late.filter(tenant_id__in=tenant_ids)
    rows = late.order_by("tenant_id").values("tenant_id").annotate(count=Count("id"), oldest=Min("created_at"))
    return {row["tenant_id"]: Overdue(row["tenant_id"], row["count"], row["oldest"]) for row in rows}


def _event_problem(event, expected_seq: int, expected_prev: str, anchor: Anchor | None) -> str:
    if event.seq > expected_seq:
        return f"expected #{expected_seq}: an event is missing"
    if event.seq < expected_seq:
        return f"expected #{expected_seq}: an inserted or repeated event"
    if event.prev_hash != expected_prev:
        return "does not follow the event before it: inserted or reordered"
    try:
        if event.compute_hash() != event.hash:
            return "content does not match its hash: edited, or hashed without the audit key"
    except KeyError:
        return f"signed with an unknown audit key {event.key_id!r}"
    if anchor is not None and anchor.hash != event.hash:
        return f"differs from its anchor of {anchor.anchored_at}: the chain was rewritten"
    # Events sealed before events were written pending have no signature; their hash covers them.
    return _signature_problem(event, required=False)


def _signature_problem(event, *, required: bool) -> str:
    if not event.signature:
        return "has no signature: inserted without the audit key" if required else ""
    try:
        if event.compute_signature() != event.signature:
            return "content does not match its signature: edited, or signed without the audit key"
    except KeyError:
        return f"signed with an unknown audit key {event.key_id!r}"
    return ""


def _anchor_problem(anchor: Anchor, last_seq: int, base_seq: int, base_hash: str) -> str:
    if anchor.seq > last_seq:
        return (f"missing: the anchor of {anchor.anchored_at} recorded the chain up to #{anchor.seq}, "
                f"it now ends at #{last_seq}: its newest events were deleted")
    if anchor.seq == base_seq and anchor.hash != base_hash:
        return f"the purge's base differs from the anchor of {anchor.anchored_at}"
    return ""  # anchored events after the base were compared on the way; before it, they were purged


def _purge_base(tenant) -> tuple[int, str]:
    """(seq, hash) the chain continues from: the latest purge's base, else the genesis."""
    purge = AuditEvent.objects.filter(tenant=tenant, action=PURGE_ACTION, seq__isnull=False).order_by("-seq").first()
    if purge is None:
        return 0, GENESIS_HASH
    return int(purge.data.get("through_seq", 0)), str(purge.data.get("through_hash", GENESIS_HASH))


@dataclass(frozen=True)
class FileChain:
    """What an export held of one tenant's chain."""

    tenant_id: int
    events: int = 0
    pending: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    gaps: int = 0  # where the file skips events of the chain (allowed for a selective export)


@dataclass(frozen=True)
class FileBreak:
    line: int
    reason: str
    event: AuditEvent | None = None

    def __str__(self):
        if self.event is None:
            return f"line {self.line}: {self.reason}"
        where = f"event #{self.event.seq}" if self.event.seq is not None else "pending event"
        return f"line {self.line}: tenant {self.event.tenant_id} {where} (id {self.event.pk}): {self.reason}"


def audit_file_verify(lines, *, allow_gaps: bool = False) -> tuple[list[FileChain], FileBreak | None]:
    """Verify an export (export.py) from its lines alone and the configured audit keys: each
    event's hash and signature, and each link between events that follow each other in a tenant's
    chain. The chain is taken up from the first exported event's `prev_hash`, so a stretch of it
    (a time range) verifies; an event missing from the file is a break unless `allow_gaps` (an
    export filtered by actor, action, target or run). Returns (the chains read, the first break)."""
    chains: dict[int, FileChain] = {}
    expected: dict[int, tuple[int, str]] = {}  # tenant → (seq, prev_hash) of the next sealed event
    for number, event in read_export(lines):
        if isinstance(event, Exception):
            return list(chains.values()), FileBreak(number, str(event))
        chain = chains.get(event.tenant_id, FileChain(event.tenant_id))
        if event.seq is None:
            reason = _signature_problem(event, required=True)
            chains[event.tenant_id] = replace(chain, events=chain.events + 1, pending=chain.pending + 1)
        else:
            seq, prev = expected.get(event.tenant_id, (event.seq, event.prev_hash))
            gap = event.seq > seq and allow_gaps
            if gap:  # a selective export: the chain is taken up again where the file does
                seq, prev = event.seq, event.prev_hash
            reason = _event_problem(event, seq, prev, None)
            expected[event.tenant_id] = (event.seq + 1, event.hash)
            chains[event.tenant_id] = replace(
                chain, events=chain.events + 1, first_seq=chain.first_seq or event.seq, last_seq=event.seq,
                gaps=chain.gaps + gap)
        if reason:
            return list(chains.values()), FileBreak(number, reason, event)
    return list(chains.values()), None
