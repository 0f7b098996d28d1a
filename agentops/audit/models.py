"""The append-only, hash-chained audit log.

Each event's `hash` covers its content and the `prev_hash` of the event before it in the same
tenant, so editing, deleting or inserting a row breaks the chain at that point
(`manage.py audit verify` finds it). Rows cannot be changed through the ORM, and on PostgreSQL a
trigger refuses UPDATE and DELETE for anyone who does not first disable it.
"""

import functools
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
        return {**self.statement(), "seq": self.seq, "created_at": self.created_at.isoformat(),
                "prev_hash": self.prev_hash}

    def statement(self) -> dict:
        """The part of the content that the event itself says, known before it joins the chain."""
        return {
            "tenant": self.tenant_id,
            "actor": [self.actor_type, self.actor_id, self.actor_label],
            "action": self.action,
            "target": [self.target_type, self.target_id, self.target_label],
            "data": self.data,
            "changes": self.changes,
        }

    def compute_hash(self) -> str:
        return _sha256(canonical_json(self.content()))


# The content an event gets when it joins the chain, in canonical (sorted) order.
CHAIN_FIELDS = ("created_at", "prev_hash", "seq")


class ContentTemplate:
    """The canonical JSON of an event's content, encoded before it joins the chain, with gaps for
    the CHAIN_FIELDS: `hash()` then costs a few concatenations and a sha256, not an encoding of the
    whole event. Writers of the chain hold its lock meanwhile (see audit_append_all). Built from
    `statement()` and the same canonical form as `compute_hash()`, which verification uses.
    """

    def __init__(self, statement: dict):
        self._segments: list[str] = []
        text = "{"
        for index, key in enumerate(sorted([*statement, *CHAIN_FIELDS])):
            text += ("," if index else "") + _encoded_key(key) + ":"
            if key in CHAIN_FIELDS:
                self._segments.append(text)
                text = ""
            else:
                text += canonical_json(statement[key])
        self._segments.append(text + "}")

    def hash(self, *, seq: int, created_at, prev_hash: str) -> str:
        """The event's hash once it has these chain fields (as compute_hash would give it)."""
        # Their JSON written out: an ISO time and a hex digest need no escaping, an int is its digits.
        first, second, third, last = self._segments
        return _sha256(f'{first}"{created_at.isoformat()}"{second}"{prev_hash}"{third}{int(seq)}{last}')


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _encoded_key(key: str) -> str:
    return canonical_json(key)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
