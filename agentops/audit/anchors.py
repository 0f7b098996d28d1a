"""Anchors: each chain's head (tenant, last seq, last hash, time, key id), signed with the audit key
and kept outside the database, so that deleting the newest events, which leaves a shorter chain
that is still intact, is found by `manage.py audit verify`, and so is a chain recomputed by someone
who somehow holds the key.

Written by `manage.py audit anchor` and the hourly schedule (tasks.anchor) to a directory (one
append-only JSON Lines file per tenant, `tenant-<id>.jsonl`) and/or POSTed to an HTTP endpoint
as `{"anchors": [...]}`. The endpoint is the platform's own configuration, not a tenant's: it is
called directly, not through the guard on tenants' outbound calls.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from agentops.errors import CodedError

from .keys import key_get, signing_key
from .models import AuditEvent, canonical_json
from .sequencer import audit_seal

POST_TIMEOUT_SECONDS = 10


class AnchorError(CodedError):
    pass


@dataclass(frozen=True)
class Anchor:
    tenant_id: int
    tenant: str  # the slug when anchored, for people reading the file
    seq: int
    hash: str
    anchored_at: str
    key_id: str
    signature: str = ""

    def signed_text(self) -> str:
        return canonical_json({k: v for k, v in asdict(self).items() if k != "signature"})

    def signature_valid(self) -> bool:
        key = key_get(self.key_id)
        return key is not None and key.matches(self.signed_text(), self.signature)

    def line(self) -> str:
        return canonical_json(asdict(self)) + "\n"


def anchor_heads() -> list[Anchor]:
    """The signed head of every tenant's chain that has sealed events (one query): pending events
    have no place in the chain yet, so no anchor covers them."""
    newest = (AuditEvent.objects.filter(tenant=OuterRef("tenant"), seq__isnull=False).order_by("-seq")
              .values("seq")[:1])
    heads = (AuditEvent.objects.filter(seq=Subquery(newest)).order_by("tenant_id")
             .values_list("tenant_id", "tenant__slug", "seq", "hash"))
    key, now = signing_key(), timezone.now().isoformat()
    anchors = [Anchor(tenant_id, slug, seq, digest, now, key.id) for tenant_id, slug, seq, digest in heads]
    return [Anchor(**{**asdict(a), "signature": key.sign(a.signed_text())}) for a in anchors]


def audit_anchor(*, directory: str = "", url: str = "") -> list[Anchor]:
    """Anchor every chain's head to the directory or the URL given, else to the configured ones
    (AGENTOPS_AUDIT_ANCHOR_DIR, AGENTOPS_AUDIT_ANCHOR_URL). AnchorError when there is none."""
    if not directory and not url:
        directory, url = settings.AGENTOPS_AUDIT_ANCHOR_DIR, settings.AGENTOPS_AUDIT_ANCHOR_URL
    if not directory and not url:
        raise AnchorError("no_anchor_target", "No anchor target: set AGENTOPS_AUDIT_ANCHOR_DIR or "
                                              "AGENTOPS_AUDIT_ANCHOR_URL, or give --to.")
    audit_seal(wait=True)  # what was written until now, anchored now rather than in an hour
    anchors = anchor_heads()
    if directory:
        anchors_append(anchors, directory)
    if url:
        anchors_post(anchors, url)
    return anchors


def anchors_append(anchors: list[Anchor], directory: str) -> None:
    """Append each anchor to its tenant's file, synced to disk before returning."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    for anchor in anchors:
        fd = os.open(Path(directory) / f"tenant-{anchor.tenant_id}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, anchor.line().encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def anchors_post(anchors: list[Anchor], url: str) -> None:
    try:
        response = httpx.post(url, json={"anchors": [asdict(a) for a in anchors]}, timeout=POST_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise AnchorError("anchor_post_failed", f"Could not POST the anchors to {url}: {exc}") from exc
    if not response.is_success:
        raise AnchorError("anchor_post_failed", f"POST {url} answered {response.status_code}: {response.text[:200]}")


def anchors_load(path: str) -> tuple[dict[int, list[Anchor]], list[str]]:
    """The anchors kept at `path` (a directory of .jsonl files, or one such file), by tenant id,
    oldest first, and the problems found: unreadable lines and lines whose signature fails.
    AnchorError when there is nothing at `path`."""
    if not path or not Path(path).exists():
        raise AnchorError("no_anchors", f"No anchors at {path}.")
    files = sorted(Path(path).glob("*.jsonl")) if Path(path).is_dir() else [Path(path)]
    by_tenant: dict[int, list[Anchor]] = {}
    problems: list[str] = []
    for file in files:
        for number, text in enumerate(file.read_text().splitlines(), start=1):
            if not text.strip():
                continue
            anchor = _parse(text)
            if anchor is None or not anchor.signature_valid():
                problems.append(f"{file}:{number}: {'not an anchor' if anchor is None else 'signature does not match'}")
                continue
            by_tenant.setdefault(anchor.tenant_id, []).append(anchor)
    for anchors in by_tenant.values():
        anchors.sort(key=lambda a: (a.seq, a.anchored_at))
    return by_tenant, problems


def _parse(text: str) -> Anchor | None:
    try:
        return Anchor(**json.loads(text))
    except (ValueError, TypeError):
        return None
