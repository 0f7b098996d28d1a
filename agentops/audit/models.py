"""The append-only, keyed hash-chained audit log.

Each event's `hash` is an HMAC-SHA256 (with the key named by `key_id`, see keys.py) of its content
and the `prev_hash` of the event before it in the same tenant, so editing, deleting, inserting or
reordering rows breaks the chain at that point, and only a holder of the key can write a chain
that verifies (`manage.py audit verify`). Deleting the newest events is found against the chain's
anchors, its signed heads kept outside the database (anchors.py).

Rows cannot be changed through the ORM, and triggers (SQLite and PostgreSQL, migration 0005)
refuse UPDATE and DELETE for anyone who does not first drop or disable them; the one exception is
the retention purge of services.audit_purge. A migration that makes SQLite rebuild this table
drops its triggers: create them again in the same migration (tests/audit/test_append_only.py fails
otherwise).
"""

import functools
import json

from django.db import models

from .keys import KEY_ID_MAX_LENGTH, AuditKey, key_get

GENESIS_HASH = "0" * 64
PURGE_ACTION = "audit.purged"


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
    key_id = models.CharField(max_length=KEY_ID_MAX_LENGTH, help_text="The audit key that signed `hash`.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of the content, `prev_hash` included.")

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
            "key": self.key_id,
        }

    def compute_hash(self) -> str:
        """The signature this event's content should carry; KeyError when its key is unknown."""
        key = key_get(self.key_id)
        if key is None:
            raise KeyError(self.key_id)
        return key.sign(canonical_json(self.content()))


# The content an event gets when it joins the chain, in canonical (sorted) order.
CHAIN_FIELDS = ("created_at", "prev_hash", "seq")


class ContentTemplate:
    """The canonical JSON of an event's content, encoded before it joins the chain, with gaps for
    the CHAIN_FIELDS: `hash()` then costs a few concatenations and an HMAC, not an encoding of the
    whole event. Writers of the chain hold its lock meanwhile (see audit_append_all). Built from
    `statement()` and the same canonical form as `compute_hash()`, which verification uses.
    """

    def __init__(self, statement: dict, key: AuditKey):
        self._key = key
        self._segments: list[str] = []
        text = "{"
        for index, name in enumerate(sorted([*statement, *CHAIN_FIELDS])):
            text += ("," if index else "") + _encoded_key(name) + ":"
            if name in CHAIN_FIELDS:
                self._segments.append(text)
                text = ""
            else:
                text += canonical_json(statement[name])
        self._segments.append(text + "}")

    def hash(self, *, seq: int, created_at, prev_hash: str) -> str:
        """The event's hash once it has these chain fields (as compute_hash would give it)."""
        # Their JSON written out: an ISO time and a hex digest need no escaping, an int is its digits.
        first, second, third, last = self._segments
        return self._key.sign(f'{first}"{created_at.isoformat()}"{second}"{prev_hash}"{third}{int(seq)}{last}')


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _encoded_key(key: str) -> str:
    return canonical_json(key)
