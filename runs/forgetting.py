"""Forgetting a user or a thread in the runs: the words of their runs go, the runs stay.

Registered with agentops.memory.forgetting (runs.apps), so `memory_forget` erases these in its own
transaction. A run keeps its status, timing, tokens and cost (the dashboards and budgets count
them); its input, output, previews and metadata, and its steps' inputs, outputs and error
messages are emptied, its error keeps only its code, and the blobs only those steps referred to
are deleted; the run webhooks sent about it keep the run's id and status, not its output. A run
still going is cancelled first, so that nothing more is written about it.
"""

from __future__ import annotations

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from agentops.memory.forgetting import Forgotten
from agentops.webhooks.models import WebhookDelivery

from .journal import collect_refs, load_blobs
from .models import UNFINISHED_STATUSES, Blob, Run, Step
from .services import run_cancel

FORGOTTEN = "[forgotten]"


def forgotten_runs(*, tenant, username: str | None, thread: str | None):
    """The runs whose words forgetting a user (the runs they started or that acted for them) or a
    thread erases."""
    runs = Run.objects.filter(tenant=tenant)
    if username is not None:
        return runs.filter(Q(created_by__username=username) | Q(on_behalf_of__username=username))
    return runs.filter(thread=thread)


def runs_forget(*, tenant, username: str | None, thread: str | None, actor) -> Forgotten:
    """Call inside a transaction (memory_forget's)."""
    run_ids = list(forgotten_runs(tenant=tenant, username=username, thread=thread).values_list("pk", flat=True))
    for run in Run.objects.filter(pk__in=run_ids, status__in=UNFINISHED_STATUSES):
        run_cancel(run=run, actor=actor)
    steps = Step.objects.filter(run__in=run_ids)
    digests = _blob_digests(steps)
    step_count = steps.update(input=None, output=None, error=None)
    blob_count = _delete_unshared_blobs(digests, run_ids)
    Run.objects.filter(pk__in=run_ids).update(input={}, output=None, metadata={}, input_preview=FORGOTTEN,
                                              output_preview=FORGOTTEN)
    _errors_forget(Run.objects.filter(pk__in=run_ids, error__isnull=False))
    delivery_count = deliveries_forget(tenant=tenant, deliveries=WebhookDelivery.objects.filter(
        payload__data__run__id__in=[str(pk) for pk in run_ids]), forget=_run_event_forget)
    threads = set(Run.objects.filter(pk__in=run_ids).exclude(thread="").values_list("thread", flat=True))
    return Forgotten(counts={"runs": len(run_ids), "steps": step_count, "blobs": blob_count,
                             "webhook_deliveries": delivery_count}, run_ids=run_ids, threads=threads)


def _errors_forget(runs) -> None:
    for run in runs.only("pk", "error"):
        run.error = _error_forgotten(run.error)
        run.save(update_fields=["error"])


def _error_forgotten(error: dict | None) -> dict | None:
    """A run's error message may quote its input or a tool's answer: only its code stays."""
    return error and {"code": error.get("code", "error"), "message": FORGOTTEN}


def deliveries_forget(*, tenant, deliveries, forget) -> int:
    """Rewrite the payload of the tenant's `deliveries` with `forget(data)`: a webhook sent about
    a forgotten run keeps its ids and status (a pending one is still sent, as rewritten)."""
    rewritten = 0
    for delivery in deliveries.filter(webhook__tenant=tenant).only("pk", "payload"):
        delivery.payload = {**delivery.payload, "data": forget(delivery.payload["data"])}
        delivery.save(update_fields=["payload"])
        rewritten += 1
    return rewritten


def _run_event_forget(data: dict) -> dict:
    run = data["run"]
    return {**data, "run": {**run, "output": None, "error": _error_forgotten(run.get("error"))}}


def _blob_digests(steps) -> set[str]:
    """Every blob the steps refer to, directly or through another blob."""
    digests: set[str] = set()
    for payloads in steps.values_list("input", "output"):
        collect_refs(list(payloads), digests)
    unread = set(digests)
    while unread:
        found: set[str] = set()
        collect_refs(list(load_blobs(unread).values()), found)
        unread = found - digests
        digests |= found
    return digests


def _delete_unshared_blobs(digests: set[str], run_ids: list) -> int:
    """Blobs are shared by content across runs and tenants (the same tool list, say): one that a
    step of another run names stays. References nest anywhere in a payload, so the other steps'
    JSON text is searched for the digests: a scan of the steps, acceptable for a rare erasure."""
    if not digests:
        return 0
    mentions = Q()
    for digest in digests:
        mentions |= Q(input_text__contains=digest) | Q(output_text__contains=digest)
    others = (Step.objects.exclude(run__in=run_ids)
              .annotate(input_text=Cast("input", TextField()), output_text=Cast("output", TextField()))
              .filter(mentions).values_list("input_text", "output_text"))
    shared = {digest for texts in others for digest in digests if digest in f"{texts[0]}{texts[1]}"}
    return Blob.objects.filter(sha256__in=digests - shared).delete()[0]
