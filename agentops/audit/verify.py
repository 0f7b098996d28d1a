"""Walking hash chains to find the first event that was edited, deleted or inserted."""

from __future__ import annotations

from dataclasses import dataclass


from .models import GENESIS_HASH, AuditEvent


@dataclass(frozen=True)
class ChainBreak:
    tenant: str
    seq: int
    event_id: int
    reason: str

    def __str__(self):
        return f"tenant {self.tenant}: event #{self.seq} (id {self.event_id}): {self.reason}"


def audit_chain_verify(tenant) -> tuple[int, ChainBreak | None]:
    """(events checked, first break or None). Streams the chain in order of `seq`."""
    expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
    for event in AuditEvent.objects.filter(tenant=tenant).order_by("seq").iterator(chunk_size=2000):
        checked += 1
        if event.seq != expected_seq:
            return checked, ChainBreak(tenant.slug, event.seq, event.pk, f"expected #{expected_seq}: an event is missing")
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(tenant.slug, event.seq, event.pk, "does not follow the event before it: inserted or reordered")
        if event.compute_hash() != event.hash:
            return checked, ChainBreak(tenant.slug, event.seq, event.pk, "content does not match its hash: edited")
        expected_seq, expected_prev = event.seq + 1, event.hash
    return checked, None
