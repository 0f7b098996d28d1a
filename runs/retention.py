"""Retention of step payloads, and the legal hold that exempts a run from it.

A tenant with `payload_retention_days` keeps a finished run's payloads — its input and output,
their previews, and each step's input and output (prompts, model answers, tool arguments and
results, and the blobs they refer to) — that many days after the run ended. Then
`payloads_purge` (daily, and `manage.py runs purge-payloads`) empties them and stamps the run's
`payload_purged_at`; the run, its steps' kinds, names, timing, tokens, costs and errors, its
totals, the rollups, DailyUsage and the audit log stay. A run on legal hold is never purged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from agentops.audit.services import Actor, audit_record
from agentops.tenancy.models import Tenant

from .journal import collect_refs
from .models import FINISHED_STATUSES, Blob, Run, Step

BATCH = 200


def payloads_purge(*, tenant: Tenant | None = None, dry_run: bool = False, now: datetime | None = None,
                   batch: int = BATCH) -> dict[str, int]:
    """Purge the payloads of runs past their tenant's retention ({tenant slug: runs purged}; with
    `dry_run`, the runs that would be). Each batch of runs is one transaction, its candidates
    claimed with a compare-and-swap on (`payload_purged_at` empty, `legal_hold` off), so a hold
    set meanwhile wins and a purge run twice does nothing more. Audited per tenant and run."""
    now = now or timezone.now()
    tenants = Tenant.objects.filter(payload_retention_days__isnull=False).order_by("slug")
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    return {each.slug: _tenant_purge(each, now=now, dry_run=dry_run, batch=batch) for each in tenants}


def _due(tenant: Tenant, now: datetime):
    cutoff = now - timedelta(days=tenant.payload_retention_days)
    return Run.objects.filter(tenant=tenant, payload_purged_at__isnull=True, legal_hold=False,
                              status__in=FINISHED_STATUSES, finished_at__lt=cutoff)


def _tenant_purge(tenant: Tenant, *, now: datetime, dry_run: bool, batch: int) -> int:
    due = _due(tenant, now)
    if dry_run:
        return due.count()
    purged = 0
    while ids := list(due.order_by("finished_at", "pk").values_list("pk", flat=True)[:batch]):
        purged += _batch_purge(tenant, ids, now=now)
    return purged


def _batch_purge(tenant: Tenant, run_ids: list, *, now: datetime) -> int:
    with transaction.atomic():
        claimed = list(Run.objects.select_for_update().filter(pk__in=run_ids, payload_purged_at__isnull=True,
                                                              legal_hold=False).values_list("pk", flat=True))
        steps = Step.objects.filter(run_id__in=claimed)
        referenced: set[str] = set()
        for step_input, step_output in steps.values_list("input", "output"):
            collect_refs(step_input, referenced)
            collect_refs(step_output, referenced)
        steps.update(input=None, output=None)
        Run.objects.filter(pk__in=claimed).update(input={}, output=None, input_preview="", output_preview="",
                                                  payload_purged_at=now)
        _blobs_delete_unreferenced(referenced)
        actor = Actor.system("retention")
        for run_id in claimed:
            audit_record(tenant=tenant, action="run.payload_purged", actor=actor, target=Run(pk=run_id),
                         data={"retention_days": tenant.payload_retention_days})
    return len(claimed)


def _blobs_delete_unreferenced(candidates: set[str]) -> None:
    """Delete the blobs among `candidates` that no step refers to any more. Blobs are shared by
    content across runs and tenants, and a reference lives inside a step's JSON: the steps whose
    JSON text names a candidate are read, once per batch, to keep the blobs they still use."""
    if not candidates:
        return
    names = Q()
    for sha in candidates:
        names |= Q(input_text__contains=sha) | Q(output_text__contains=sha)
    still: set[str] = set()
    for step_input, step_output in (Step.objects.annotate(input_text=Cast("input", TextField()),
                                                          output_text=Cast("output", TextField()))
                                    .filter(names).values_list("input", "output")):
        collect_refs(step_input, still)
        collect_refs(step_output, still)
    Blob.objects.filter(sha256__in=candidates - still).delete()


def run_hold_set(*, run: Run, held: bool, actor: Actor) -> Run:
    """Put the run on legal hold (retention keeps it whole) or take it off; audited as
    `run.hold_set` / `run.hold_cleared`. A run whose payloads were already purged can be held (its
    remaining record is kept), but its payloads do not come back."""
    with transaction.atomic():
        changed = Run.objects.filter(pk=run.pk, tenant_id=run.tenant_id, legal_hold=not held).update(legal_hold=held)
        if changed:
            audit_record(tenant=run.tenant, action=f"run.hold_{'set' if held else 'cleared'}", actor=actor,
                         target=run, data={"purged": run.payload_purged_at is not None})
    run.refresh_from_db()
    return run

