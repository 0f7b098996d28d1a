"""Exporting audit events as JSON Lines or CSV, with their chain fields, so that an export can be
verified away from the database (`manage.py audit verify --file`, verify.audit_file_verify).

An export holds, per tenant, a stretch of its chain in order of `seq`, then its pending events in
the order they were written. A time range (`since`, `until`) exports the stretch from the first
sealed event written at or after `since` to the last written before `until`, every event between
them included: an event whose transaction committed late takes a later place in the chain than
its time says, so the stretch may hold a few events just outside the range, and it verifies from
its first event's `prev_hash`. Filters that pick events (actor, action, target, run) export only
those: each one still verifies, and links between neighbours that follow each other in the chain.

Events are read in chunks and written a line at a time: memory stays constant however many.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator

from django.db.models import Max, Min, QuerySet

from .models import AuditEvent, canonical_json
from .selectors import AuditFilters, audit_event_matching

FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
FIELDS = ("id", "tenant_id", "seq", "created_at", "actor_type", "actor_id", "actor_label", "action", "target_type",
          "target_id", "target_label", "data", "changes", "key_id", "signature", "prev_hash", "hash")
JSON_FIELDS = ("data", "changes")  # JSON objects, written as canonical JSON text in a CSV cell
CHUNK = 2000


class ExportFormatError(ValueError):
    """A line that is not an exported event."""


def audit_export_events(events: QuerySet, *, tenant_ids: Iterable[int], filters: AuditFilters) -> Iterator[AuditEvent]:
    """The events of `events` (a queryset already scoped to who may read them) to export, tenant
    by tenant: the chain's stretch in order of seq, then the pending ones."""
    for tenant_id in tenant_ids:
        tenant_events = events.filter(tenant_id=tenant_id)
        yield from _sealed(tenant_events, filters).order_by("seq").iterator(chunk_size=CHUNK)
        pending = audit_event_matching(tenant_events.filter(seq__isnull=True), filters)
        yield from pending.order_by("id").iterator(chunk_size=CHUNK)


def _sealed(events: QuerySet, filters: AuditFilters) -> QuerySet:
    sealed = events.filter(seq__isnull=False)
    if filters.selective or not (filters.since or filters.until):
        return audit_event_matching(sealed, filters)
    bounds = audit_event_matching(sealed, filters).aggregate(first=Min("seq"), last=Max("seq"))
    if bounds["first"] is None:
        return sealed.none()
    return sealed.filter(seq__gte=bounds["first"], seq__lte=bounds["last"])


def export_record(event: AuditEvent) -> dict:
    return {"id": event.pk, "tenant_id": event.tenant_id, "seq": event.seq, "created_at": event.created_at.isoformat(),
            "actor_type": event.actor_type, "actor_id": event.actor_id, "actor_label": event.actor_label,
            "action": event.action, "target_type": event.target_type, "target_id": event.target_id,
            "target_label": event.target_label, "data": event.data, "changes": event.changes,
            "key_id": event.key_id, "signature": event.signature, "prev_hash": event.prev_hash, "hash": event.hash}


def export_lines(events: Iterable[AuditEvent], fmt: str) -> Iterator[str]:
    """The export as text, a line at a time (a CSV's first line is its header)."""
    if fmt == "jsonl":
        for event in events:
            yield canonical_json(export_record(event)) + "\n"
        return
    yield _csv_line(FIELDS)
    for event in events:
        record = export_record(event)
        yield _csv_line([canonical_json(record[name]) if name in JSON_FIELDS else _cell(record[name])
                         for name in FIELDS])


def _cell(value) -> str:
    return "" if value is None else str(value)


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def read_export(lines: Iterable[str]) -> Iterator[tuple[int, AuditEvent | ExportFormatError]]:
    """(line number, event) for each line of an export, JSON Lines or CSV (told apart by the first
    line); an ExportFormatError in place of the event for a line that is not one."""
    lines = iter(lines)
    first = next(lines, "")
    if first.lstrip().startswith("{"):
        yield 1, _parsed(lambda: json.loads(first))
        for number, line in enumerate(lines, start=2):
            if line.strip():
                yield number, _parsed(lambda line=line: json.loads(line))
        return
    header = next(csv.reader([first]), [])
    if tuple(header) != FIELDS:
        yield 1, ExportFormatError(f"neither JSON Lines nor a CSV export with the header {','.join(FIELDS)}")
        return
    # The csv reader follows quoted newlines across lines; its line_num says where a record ended.
    reader = csv.reader(lines)
    for row in reader:
        yield reader.line_num + 1, _parsed(lambda row=row: _csv_record(row))


def _csv_record(row: list[str]) -> dict:
    if len(row) != len(FIELDS):
        raise ValueError(f"{len(row)} cells, not {len(FIELDS)}")
    record = dict(zip(FIELDS, row))
    for name in JSON_FIELDS:
        record[name] = json.loads(record[name])
    for name in ("seq", "prev_hash", "hash"):
        record[name] = record[name] or None
    return record


def _parsed(load) -> AuditEvent | ExportFormatError:
    try:
        return _event(load())
    except (ValueError, TypeError, KeyError) as exc:
        return ExportFormatError(f"not an exported event ({exc})")


def _event(record: dict) -> AuditEvent:
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise ValueError("the fields are not those of an export")
    created_at = dt.datetime.fromisoformat(record["created_at"])
    if created_at.tzinfo is None:
        raise ValueError("created_at has no time zone")
    values = {name: record[name] for name in FIELDS if name not in ("id", "tenant_id", "seq", "created_at")}
    return AuditEvent(pk=int(record["id"]), tenant_id=int(record["tenant_id"]), created_at=created_at,
                      seq=int(record["seq"]) if record["seq"] is not None else None, **values)
