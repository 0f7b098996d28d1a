"""The append-only, keyed hash-chained audit log.

An event is written in two steps. The change's transaction inserts it *pending*: its content,
`created_at` and `signature`, an HMAC-SHA256 of that content with the key named by `key_id` (see
keys.py), but no place in the chain. Shortly after, the sequencer (sequencer.py) links it: it
gives it `seq`, the `prev_hash` of the event before it in the same tenant, and `hash`, an HMAC of
its content and those, so editing, deleting, inserting or reordering sealed rows breaks the chain
at that point, and only a holder of the key can write a chain that verifies (`manage.py audit
verify`). Deleting the newest events is found against the chain's anchors, its signed heads kept
outside the database (anchors.py).

Rows cannot be changed through the ORM, and triggers (SQLite and PostgreSQL, migration
0007_unchained_events) refuse UPDATE and DELETE for anyone who does not first drop or disable them;
the exceptions are the sequencer's sealing of a pending row (its chain fields, from NULL to a value,
once, its content unchanged) and the retention purge of services.audit_purge. A migration that
makes SQLite rebuild this table drops its triggers: create them again in the same migration
(tests/audit/test_append_only.py fails otherwise).
"""

import functools
import json

from django.db import models

from .keys import KEY_ID_MAX_LENGTH, AuditKey, key_get

GENESIS_HASH = "0" * 64
PURGE_ACTION = "audit.purged"
CHAIN_FIELDS = ("seq", "prev_hash", "hash")  # NULL while an event is pending, set once by the sequencer


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
    # No index of its own: (tenant, seq) and (tenant, created_at, id) lead with it.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="audit_events",
                               db_index=False)
    # The chain fields: NULL while the event is pending, set once by the sequencer.
    seq = models.PositiveBigIntegerField(null=True, blank=True,
                                         help_text="Position in the tenant's chain, from 1; empty while pending.")
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
    # Empty only on events sealed before events were written pending (their `hash` covers them).
    signature = models.CharField(max_length=64, blank=True,
                                 help_text="HMAC-SHA256 of the content but the chain fields, written with the event.")
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True,
                            help_text="HMAC-SHA256 of the content, `seq` and `prev_hash` included.")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["tenant_id", "id"]  # the order of insertion, which the sequencer follows
        constraints = [models.UniqueConstraint(fields=["tenant", "seq"], name="audit_seq_unique_per_tenant")]
        indexes = [
            # The audit page's list, newest first by (created_at, id), one index per filter
            # (agentops/audit/selectors.py); the first also serves the admin's list.
            models.Index(fields=["tenant", "created_at", "id"], name="audit_list"),
            models.Index(fields=["tenant", "action", "created_at", "id"], name="audit_list_action"),
            models.Index(fields=["tenant", "actor_label", "created_at", "id"], name="audit_list_actor"),
            models.Index(fields=["tenant", "target_type", "target_id", "created_at", "id"], name="audit_list_target"),
            models.Index(fields=["target_type", "target_id"]),
            # What the sequencer reads: each tenant's pending events, in order (a small index).
            models.Index(fields=["tenant", "id"], condition=models.Q(seq__isnull=True), name="audit_pending"),
        ]

    def __str__(self):
        return f"{self.chain_position} {self.action} by {self.actor_label or self.actor_type}"

    @property
    def chain_position(self) -> str:
        return f"#{self.seq}" if self.seq is not None else "pending"

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

    def signed_content(self) -> dict:
        """What the signature covers: the content but the chain fields, which come later."""
        return {**self.statement(), "created_at": self.created_at.isoformat()}

    def compute_hash(self) -> str:
        """The hash this event's content should carry in the chain; KeyError when its key is unknown."""
        return self._key().sign(canonical_json(self.content()))

    def compute_signature(self) -> str:
        """The signature its content should carry; KeyError when its key is unknown."""
        return self._key().sign(canonical_json(self.signed_content()))

    def _key(self) -> AuditKey:
        key = key_get(self.key_id)
        if key is None:
            raise KeyError(self.key_id)
        return key


class SignatureTemplate:
    """The canonical JSON of an event's signed content, encoded before the change's transaction
    with a gap for `created_at`: `sign()` inside it then costs two concatenations and an HMAC, not
    an encoding of the whole event. Built from `statement()` and the same canonical form as
    `compute_signature()`, which the sequencer and verification use.
    """

    def __init__(self, statement: dict, key: AuditKey):
        self._key = key
        before, after = [], []
        for name in sorted(statement):
            (before if name < "created_at" else after).append(f"{_encoded_key(name)}:{canonical_json(statement[name])}")
        self._head = "{" + "".join(f"{item}," for item in before) + '"created_at":"'
        self._tail = '"' + "".join(f",{item}" for item in after) + "}"

    def sign(self, created_at) -> str:
        """The event's signature once it has this time (as compute_signature would give it)."""
        return self._key.sign(f"{self._head}{created_at.isoformat()}{self._tail}")


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _encoded_key(key: str) -> str:
    return canonical_json(key)
