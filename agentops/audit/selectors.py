"""Reads of the audit log for people: the audit page's list and the export, scoped to the
principal's tenant and to the `view_audit` permission. (A principal is agentops.tenancy's
`Principal`, not imported: tenancy records audit events, so audit does not import tenancy.)

The list is newest first by (created_at, id), paged by keyset (agentops.keyset); each filter has
an index of AuditEvent that serves that order, so a page costs the same at the millionth event.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from agentops.keyset import KeysetQuery

from .models import AuditEvent
from .services import Actor

RUN_TARGET_TYPE = "runs.run"  # a run's `_meta.label_lower`, as audit_prepare records its target


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page and the export narrow the log to; empty values match everything.

    `actor` is an actor's label as the log shows it (a username, an API key's name, `run <id>`);
    `target` is `type:id` (`runs.run:<uuid>`, `approvals.approvalrequest:12`); `run` matches the
    events about a run and those the run itself caused (its tool calls, its approval requests);
    `since` and `until` are a half-open range of `created_at`.
    """

    actor: str = ""
    action: str = ""
    target: str = ""
    run: uuid.UUID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @property
    def selective(self) -> bool:
        """Whether the filters pick events out of the chain, rather than a stretch of it."""
        return bool(self.actor or self.action or self.target or self.run)


def tenant_audit_events(principal) -> QuerySet[AuditEvent]:
    if not principal.can("view_audit"):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(tenant_id=principal.tenant.pk)


def audit_event_list(*, principal, filters: AuditFilters) -> KeysetQuery:
    """The tenant's events matching `filters`, newest first: page it with `.page(cursor=, size=)`."""
    events = _in_range(tenant_audit_events(principal), filters)
    # The run filter's two branches, each in the order of its own index, rather than an OR that
    # no index serves.
    return KeysetQuery(tuple(events.filter(branch) for branch in _branches(filters)))


def audit_event_matching(events: QuerySet, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """`events` narrowed to `filters`, in no particular order (the export orders them by chain)."""
    return _in_range(events, filters).filter(functools.reduce(operator.or_, _branches(filters)))


def _branches(filters: AuditFilters) -> list[Q]:
    """The filters as conditions, one per branch: an event matches when it meets any of them."""
    condition = Q()
    if filters.actor:
        condition &= Q(actor_label=filters.actor)
    if filters.action:
        condition &= Q(action=filters.action)
    if filters.target:
        target_type, _, target_id = filters.target.partition(":")
        condition &= Q(target_type=target_type, target_id=target_id)
    if filters.run:
        return [condition & Q(target_type=RUN_TARGET_TYPE, target_id=str(filters.run)),
                condition & Q(actor_label=Actor.run_label(filters.run))]
    return [condition]


def _in_range(events: QuerySet, filters: AuditFilters) -> QuerySet:
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    return events


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the current time zone (the pages' dates)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
