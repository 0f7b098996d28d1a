"""Writing audit events. Call `audit_record` inside the transaction of the change it records."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, router, transaction
from django.utils import timezone

from agentops.db import execute, insert_many
from agentops.errors import CodedError

from .keys import signing_key
from .models import CHAIN_FIELDS, PURGE_ACTION, ActorType, AuditEvent, SignatureTemplate
from .sequencer import chain_seal


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(ActorType.USER, str(user.pk), user.get_username())

    @classmethod
    def for_api_key(cls, api_key) -> "Actor":
        return cls(ActorType.API_KEY, str(api_key.pk), f"{api_key.name} ({api_key.prefix}…)")

    @classmethod
    def for_run(cls, run) -> "Actor":
        return cls(ActorType.RUN, str(run.pk), cls.run_label(run.pk))

    @staticmethod
    def run_label(run_id) -> str:
        """The label of a run acting: what the audit page's run filter looks for."""
        return f"run {run_id}"

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(ActorType.SYSTEM, "", label)

    @classmethod
    def from_request(cls, request) -> "Actor":
        """The API key when the request authenticated with one (DRF's `request.auth`; a session
        leaves it None), else the signed-in user."""
        auth = getattr(request, "auth", None)
        if auth is not None:
            return cls.for_api_key(auth)
        return cls.for_user(request.user)


def _json_float(text: str):
    # PostgreSQL's jsonb keeps numbers as `numeric`: 1e+20 comes back as the integer
    # 100000000000000000000 and -0.0 as 0.0. Store them in that form on every database, so the hash
    # computed before the insert is also the hash of what is read back.
    value = float(text)
    if value == 0:
        return 0.0
    if abs(value) >= 1e16:  # where Python starts writing floats with an exponent; all are integers
        return int(Decimal(text))
    return value


def _json_native(value):
    # Store exactly what is hashed: Decimals, dates and UUIDs become their JSON forms first.
    return json.loads(json.dumps(value if value is not None else {}, cls=DjangoJSONEncoder),
                      parse_float=_json_float)


def audit_diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose values differ."""
    before, after = _json_native(before), _json_native(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def audit_record(
    *,
    tenant,
    action: str,
    actor: Actor,
    target=None,
    data: dict | None = None,
    changes: dict | None = None,
) -> AuditEvent:
    """Append one event to the tenant's log, in the caller's transaction: pending, until the
    sequencer links it into the chain (sequencer.py)."""
    return audit_append(audit_prepare(tenant=tenant, action=action, actor=actor, target=target, data=data,
                                      changes=changes))


def audit_record_concerned(*, tenant_ids, action: str, actor: Actor, target=None, data: dict | None = None,
                           changes: dict | None = None) -> None:
    """Append one event to the log of each tenant in `tenant_ids`, in the caller's transaction.
    No tenant at all means a platform-wide object (a global tool, a price, a platform user): it
    concerns every tenant, so every tenant's auditors see the change in their own chain."""
    tenants = _TENANT.objects.order_by("pk")
    for tenant in tenants.filter(pk__in=tenant_ids) if tenant_ids else tenants:
        audit_record(tenant=tenant, action=action, actor=actor, target=target, data=data, changes=changes)


@dataclass(frozen=True)
class PreparedEvent:
    """An event encoded for the database and for its signature, but for its time
    (see audit_prepare and audit_append_all)."""

    event: AuditEvent
    template: SignatureTemplate
    values: list  # the values of _OWN_FIELDS, adapted for the database


def audit_prepare(*, tenant, action: str, actor: Actor, target=None, data: dict | None = None,
                  changes: dict | None = None) -> PreparedEvent:
    """An event with everything but its time and signature, for `audit_append`.

    Hot paths prepare their event before their transaction begins: on SQLite the time spent
    inside one is time every other writer waits, so whatever can be encoded is encoded here.
    """
    key = signing_key()
    event = AuditEvent(
        tenant_id=tenant.pk,
        key_id=key.id,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:200],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        data=_json_native(data),
        changes=_json_native(changes),
    )
    connection = connections[router.db_for_write(AuditEvent)]
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in _OWN_FIELDS]
    return PreparedEvent(event, SignatureTemplate(event.statement(), key), values)


def audit_append(prepared: PreparedEvent) -> AuditEvent:
    """Insert a prepared event, pending, in the caller's transaction (see audit_append_all)."""
    return audit_append_all([prepared])[0]


def audit_append_all(prepared: list[PreparedEvent]) -> list[AuditEvent]:
    """Insert prepared events, signed and pending, in the caller's transaction, with one
    statement; the sequencer (sequencer.audit_seal) links them into their tenants' chains after
    the transaction commits, in the order of their ids, which follow the order of `prepared`.

    Takes no lock and reads nothing: writers of one tenant never wait for each other here. (Chained
    at once, each would have to hold the tenant's chain tail until it commits.)
    """
    connection = connections[router.db_for_write(AuditEvent)]
    now = timezone.now()
    db_now = connection.ops.adapt_datetimefield_value(now)
    rows = []
    for item in prepared:
        item.event.created_at, item.event.signature = now, item.template.sign(now)
        rows.append((*item.values, db_now, item.event.signature))
    head, returning = _insert_parts(connection)
    ids: dict[str, list[int]] = {}
    with transaction.atomic(savepoint=False):  # past MAX_ROWS_PER_INSERT rows, several statements: all or none
        for pk, signature in insert_many(connection, head, rows, returning=returning):
            ids.setdefault(signature, []).append(pk)
    for pks in ids.values():
        pks.sort(reverse=True)  # identical events (one signature) take their ids in order
    for item in prepared:
        event = item.event
        event.pk = ids[event.signature].pop()
        event._state.adding, event._state.db = False, connection.alias
    return [item.event for item in prepared]


# Columns in INSERT order: what an event says (encoded by audit_prepare), then its time and
# signature, filled in by audit_append_all; the chain fields stay NULL until the sequencer's turn.
_TIME_FIELDS_IN_ROW = ("created_at", "signature")
_OWN_FIELDS = [field for field in AuditEvent._meta.concrete_fields
               if not field.primary_key and field.name not in (*_TIME_FIELDS_IN_ROW, *CHAIN_FIELDS)]
_INSERT_COLUMNS = [*(field.column for field in _OWN_FIELDS),
                   *(AuditEvent._meta.get_field(name).column for name in _TIME_FIELDS_IN_ROW)]


def _insert_parts(connection) -> tuple[str, str]:
    """The INSERT's head and RETURNING columns (built once per database: every tool call inserts)."""
    if connection.vendor not in _INSERT_PARTS:
        q = connection.ops.quote_name
        _INSERT_PARTS[connection.vendor] = (
            f"INSERT INTO {q(AuditEvent._meta.db_table)} ({', '.join(q(c) for c in _INSERT_COLUMNS)})",
            f"{q('id')}, {q('signature')}")
    return _INSERT_PARTS[connection.vendor]


_INSERT_PARTS: dict[str, tuple[str, str]] = {}


# The tenant model, reached through the events' foreign key: audit sits below tenancy, whose
# services record their changes here.
_TENANT = AuditEvent._meta.get_field("tenant").related_model


class AuditPurgeError(CodedError):
    pass


def audit_purge(*, tenant, before: datetime, actor: Actor) -> AuditEvent:
    """Delete the oldest events of the tenant's chain, up to the newest one written before
    `before`, and record that as an `audit.purged` event carrying the chain's new base (the seq and
    hash of the last event deleted, and how many were): verification starts from it. The only
    deletion the audit triggers let through, and only for this tenant, in this transaction.
    """
    with transaction.atomic():
        chain_seal(tenant.pk, wait=True)  # every committed event sealed, the chain held until commit
        sealed = AuditEvent.objects.filter(tenant=tenant, seq__isnull=False)
        gone = sealed.filter(created_at__lt=before).order_by("-seq").first()
        if gone is None:
            raise AuditPurgeError("nothing_to_purge", f"tenant {tenant.slug} has no audit events before {before.isoformat()}.")
        count = sealed.filter(seq__lte=gone.seq).count()
        # The purge event first, sealed at once: it follows the current tail, which may be among the deleted.
        event = audit_record(tenant=tenant, action=PURGE_ACTION, actor=actor, data={
            "before": before.isoformat(), "count": count, "through_seq": gone.seq, "through_hash": gone.hash})
        chain_seal(tenant.pk, wait=True)
        event.refresh_from_db(fields=CHAIN_FIELDS)
        if event.seq is None:  # the sequencer stopped before it: a pending event fails its signature
            raise AuditPurgeError("chain_blocked", f"tenant {tenant.slug} has a pending audit event that fails its "
                                                   "signature (see manage.py audit verify): nothing was purged.")
        with _deletion_allowed(tenant.pk):
            deleted = execute(connection, _PURGE_SQL, [tenant.pk, gone.seq])
        if deleted != count:  # cannot happen under the sequencer's lock; never record a wrong count
            raise AuditPurgeError("purge_mismatch", f"deleted {deleted} events where {count} were counted.")
    return event


_PURGE_SQL = f"DELETE FROM {AuditEvent._meta.db_table} WHERE tenant_id = %s AND seq <= %s"


@contextlib.contextmanager
def _deletion_allowed(tenant_id: int):
    """Let the audit triggers pass deletions of this tenant's events on this connection, until the
    block ends (PostgreSQL: a transaction-local setting; SQLite: a flag the backend's
    `agentops_audit_purge_allowed()` reads, see agentops.sqlite)."""
    if connection.vendor == "postgresql":
        # Transaction-local: should the block fail, the transaction's end clears it all the same.
        execute(connection, "SELECT set_config('agentops.audit_purge', %s, true)", [str(tenant_id)], result="one")
        yield
        execute(connection, "SELECT set_config('agentops.audit_purge', '', true)", [], result="one")
    else:
        with connection.audit_purge_allowed(tenant_id):
            yield
