"""django-q2 entry points of the audit log (thin)."""

from django.conf import settings

from .anchors import audit_anchor


def anchor() -> dict:
    """The hourly schedule (migration 0006): anchor every chain's head, when a target is configured."""
    if not (settings.AGENTOPS_AUDIT_ANCHOR_DIR or settings.AGENTOPS_AUDIT_ANCHOR_URL):
        return {"anchored": 0, "skipped": "no anchor target configured"}
    return {"anchored": len(audit_anchor())}
