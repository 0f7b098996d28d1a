"""The append-only, hash-chained audit log.

Each event's `hash` covers its content and the `prev_hash` of the event before it in the same
tenant, so editing, deleting or inserting a row breaks the chain at that point
(`manage.py audit verify` finds it). Rows cannot be changed through the ORM, and on PostgreSQL a
trigger refuses UPDATE and DELETE for anyone who does not first disable it.
"""

import hashlib
import json

from django.db import models

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    RUN = "run", "Agent run"
    SYSTEM = "system", "System"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    # No index of its own: (tenant, seq) and (tenant, created_at) lead with it.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="audit_events",
                               db_index=False)
    seq = models.PositiveBigIntegerField(help_text="Position in the tenant's chain, from 1.")
    created_at = models.DateTimeField()
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["tenant_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["tenant", "seq"], name="audit_seq_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "created_at"]), models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"#{self.seq} {self.action} by {self.actor_label or self.actor_type}"

    # Guards, not business logic: an audit row must never change once written.
    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def content(self) -> dict:
        """What the hash covers: every field but the hash itself."""
        return {
            "tenant": self.tenant_id,
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "actor": [self.actor_type, self.actor_id, self.actor_label],
            "action": self.action,
            "target": [self.target_type, self.target_id, self.target_label],
            "data": self.data,
            "changes": self.changes,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
