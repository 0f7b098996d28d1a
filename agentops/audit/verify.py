"""Walking a tenant's chain to find the first event that was edited, deleted, inserted, reordered
or signed without the audit key, and comparing it with the chain's anchors to find its newest
events deleted.

A chain starts at seq 1 after GENESIS_HASH or, once purged, after the base its latest
`audit.purged` event records (the seq and hash of the last event deleted): that event is itself
in the chain and signed, so a base cannot be forged without the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from .anchors import Anchor
from .models import GENESIS_HASH, PURGE_ACTION, AuditEvent


@dataclass(frozen=True)
class ChainBreak:
    tenant: str
    seq: int
    event_id: int | None
    reason: str

    def __str__(self):
        where = f"event #{self.seq}" + (f" (id {self.event_id})" if self.event_id is not None else "")
        return f"tenant {self.tenant}: {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    checked: int  # events walked
    base_seq: int  # the last purged event's seq, 0 when none was
    last_seq: int  # the chain's newest event, base_seq when it has none
    anchor: Anchor | None  # the newest anchor compared
    chain_break: ChainBreak | None


def audit_chain_verify(tenant) -> tuple[int, ChainBreak | None]:
    """(events checked, first break or None), without anchors."""
    report = audit_chain_report(tenant)
    return report.checked, report.chain_break


def audit_chain_report(tenant, anchors: list[Anchor] = ()) -> ChainReport:
    """Walk the tenant's chain in order of `seq` (streamed), comparing each anchored event with its
    anchors, then the chain's end with the newest anchor."""
    base_seq, base_hash = _purge_base(tenant)
    anchored = {anchor.seq: anchor for anchor in anchors}
    expected_seq, expected_prev, checked = base_seq + 1, base_hash, 0
    for event in AuditEvent.objects.filter(tenant=tenant).order_by("seq").iterator(chunk_size=2000):
        checked += 1
        reason = _event_problem(event, expected_seq, expected_prev, anchored.get(event.seq))
        if reason:
            return ChainReport(checked, base_seq, event.seq, None, ChainBreak(tenant.slug, event.seq, event.pk, reason))
        expected_seq, expected_prev = event.seq + 1, event.hash
    last_seq, newest = expected_seq - 1, max(anchors, key=lambda a: a.seq, default=None)
    reason = _anchor_problem(newest, last_seq, base_seq, base_hash) if newest else ""
    chain_break = ChainBreak(tenant.slug, newest.seq, None, reason) if reason else None
    return ChainReport(checked, base_seq, last_seq, newest, chain_break)


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
    purge = AuditEvent.objects.filter(tenant=tenant, action=PURGE_ACTION).order_by("-seq").first()
    if purge is None:
        return 0, GENESIS_HASH
    return int(purge.data.get("through_seq", 0)), str(purge.data.get("through_hash", GENESIS_HASH))
