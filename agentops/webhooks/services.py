"""The verbs of webhooks: configure, emit, attempt, retry, sweep.

`webhook_emit` is the one way to send an event (approvals send `approval.*`, the engine
`run.succeeded`, `run.failed`, `run.waiting`). It writes one WebhookDelivery per subscribed
webhook, and the task that delivers it, in the caller's transaction: a transactional outbox, so an
event exists exactly when the change that caused it commits, and so does its task
(agentops.taskqueue; with the Redis broker the task leaves right after the commit).

Each attempt POSTs the JSON body with

    X-AgentOps-Event: approval.requested
    X-AgentOps-Delivery: <uuid, the same for every attempt: receivers dedupe on it>
    X-AgentOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the secret>

Receivers recompute the HMAC over the raw body and refuse timestamps older than a few minutes
(`webhook_signature_verify` does both). A failed attempt is retried with exponential backoff: the
transaction that records the failure queues the next attempt's task, which the database broker
holds until `next_attempt_at`. After `MAX_ATTEMPTS` the delivery is `failed`; the admin can retry it.

Deliveries connect only where `agentops.outbound` allows: never to loopback, private, link-local or
metadata addresses (checked on the address connected to), unless AGENTOPS_OUTBOUND_ALLOW names them.
A refused address fails the delivery at once, with the reason as its error: retrying cannot help
until the webhook's URL or the allow-list changes (then the admin retries it).

The sweeper (`webhook_sweep`, called every minute by the run sweeper) queues what no task will
deliver: a retry falling due when the broker could not hold its task (Redis), a delivery whose
task was lost, an attempt a crash cut short. Queuing a delivery twice is harmless: a task claims
the next attempt with one compare-and-swap on `attempts`, so two tasks never make the same
attempt, and an attempt in flight is claimed again only once it has been running longer than an
attempt can take.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import datetime, timedelta

import httpx
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agentops import config_cache
from agentops.outbound import OutboundRefused
from agentops.outbound.clients import async_http_client
from agentops.secrets.resolver import SecretError, SecretResolver
from agentops.taskqueue import enqueue

from .models import DeliveryStatus, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AgentOps-Signature"
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30  # 30 s, 1 min, 2 min, ... about an hour over all attempts
TIMEOUT_SECONDS = 10  # the whole HTTP exchange: connecting, sending, reading the answer
SIGNATURE_TOLERANCE_SECONDS = 300
ERROR_EXCERPT_CHARS = 500
DELIVER_TASK = "agentops.webhooks.tasks.deliver"
# An attempt claimed this long ago without an outcome was cut short (a killed worker): its HTTP
# exchange ended after TIMEOUT_SECONDS, and the margin covers resolving the secret and writing the
# outcome (a SQLite writer may wait up to 20 s for the lock).
STRANDED_AFTER = timedelta(seconds=TIMEOUT_SECONDS + 50)
# A delivery not attempted this long after it was written has lost its task, or waits behind a
# backlog (then the second task is a no-op).
UNATTEMPTED_GRACE = timedelta(minutes=1)
# Processes' clocks differ a little, and the database broker hands out a held task within a poll:
# a retry due this soon counts as due.
CLOCK_SKEW = timedelta(seconds=5)
# Past this many deliveries a sweep stops; the next sweep, a minute later, takes the rest.
SWEEP_BATCH = 500


# Configuring ---------------------------------------------------------------------------------


def webhook_save(*, webhook: Webhook) -> Webhook:
    """Create or change a webhook; processes stop using the cached webhooks when this commits."""
    with transaction.atomic():
        webhook.save()
        config_cache.invalidate()
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook with its delivery log; processes stop using the cached webhooks on commit."""
    with transaction.atomic():
        webhook.delete()
        config_cache.invalidate()


# Signing -------------------------------------------------------------------------------------


def webhook_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_verify(*, secret: str, header: str, body: bytes, now: float | None = None,
                             tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `secret` and is at most `tolerance` seconds old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_sign(secret=secret, body=body, timestamp=timestamp)
    return hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}")


# Emitting ------------------------------------------------------------------------------------


def webhook_emit(*, tenant, event: str, payload: dict) -> list[WebhookDelivery]:
    """Queue `event` for every active webhook of `tenant` subscribed to it; returns the deliveries.

    Writes the deliveries and their tasks in the caller's transaction (or its own), so a
    rolled-back change sends nothing. Not idempotent: each call is a new event with its own
    delivery ids.
    """
    active = config_cache.cached(("webhooks", tenant.pk), lambda: list(Webhook.objects.filter(tenant=tenant, active=True)))
    hooks = [hook for hook in active if hook.wants(event)]
    if not hooks:
        return []
    # JSON-native now, so the stored payload is byte for byte what is signed and sent.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    created_at = timezone.now().isoformat()
    with transaction.atomic():
        deliveries = []
        for hook in hooks:
            delivery_uuid = uuid.uuid4()
            body = {"id": str(delivery_uuid), "event": event, "tenant": tenant.slug, "created_at": created_at,
                    "data": data}
            delivery = WebhookDelivery.objects.create(webhook=hook, uuid=delivery_uuid, event=event, payload=body)
            _deliver_enqueue(delivery.pk)
            deliveries.append(delivery)
    return deliveries


def _deliver_enqueue(delivery_id, *, at: datetime | None = None) -> bool:
    """Queue the delivery's next attempt in the current transaction; False when the broker cannot
    hold it until `at` (the sweeper then queues it when due)."""
    return enqueue(DELIVER_TASK, delivery_id, at=at, task_name=f"webhook delivery {delivery_id}", group="webhooks")


# Delivering ----------------------------------------------------------------------------------


def webhook_delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """Make the next attempt of a pending delivery; returns it, or None when there was nothing to do.

    Idempotent: a delivery that succeeded or gave up is left alone, one whose retry is not yet due
    is left for its own task, one with an attempt in flight is left to that attempt, and the claim
    is a compare-and-swap on the state that made the attempt due (`attempts` grows with every
    claim), so a duplicated task never makes the same attempt twice.
    The HTTP call happens outside any transaction; its outcome, and the retry's task, are written
    in one transaction afterwards.
    """
    delivery = (
        WebhookDelivery.objects.select_related("webhook")
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING).first()
    )
    now = timezone.now()
    if delivery is None or not _attempt_due(delivery, now):
        return None
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None)
    if claimed != 1:
        return None
    response_code, error, final = _post(delivery)
    return _outcome_record(delivery=delivery, attempt=delivery.attempts + 1, response_code=response_code,
                           error=error, final=final)


def _attempt_due(delivery: WebhookDelivery, now: datetime) -> bool:
    """Whether a pending delivery's next attempt may start now (the states in models.py)."""
    if delivery.next_attempt_at is not None:
        return delivery.next_attempt_at <= now + CLOCK_SKEW
    if delivery.attempts == 0:
        return True
    return delivery.last_attempt_at is None or delivery.last_attempt_at <= now - STRANDED_AFTER


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, bool]:
    """POST the signed payload; (status code, error text, whether the failure is final), error
    empty on a 2xx."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        secret = SecretResolver.for_tenant(delivery.webhook.tenant_id).resolve(delivery.webhook.secret)
    except SecretError as exc:
        return None, f"signing secret: {exc}", False
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "AgentOps-Webhooks/1",
        "X-AgentOps-Event": delivery.event,
        "X-AgentOps-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: webhook_sign(secret=secret, body=body, timestamp=int(time.time())),
    }
    try:
        # httpx's timeouts bound each read and write, not the exchange: a receiver trickling its
        # answer could hold an attempt past STRANDED_AFTER, and the sweeper would start another.
        status, excerpt = asyncio.run(asyncio.wait_for(_send(delivery.webhook.url, body, headers), TIMEOUT_SECONDS))
    except TimeoutError:
        return None, f"no answer within {TIMEOUT_SECONDS} s", False
    except OutboundRefused as refusal:
        return None, refusal.message, True
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:1000], False
    if 200 <= status < 300:
        return status, "", False
    return status, f"HTTP {status}: {excerpt}", False


async def _send(url: str, body: bytes, headers: dict) -> tuple[int, str]:
    """(status, the start of the answer's text when it is not a 2xx)."""
    async with async_http_client(timeout=TIMEOUT_SECONDS) as client:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            if response.is_success:
                return response.status_code, ""
            text = ""
            async for chunk in response.aiter_text():
                text += chunk
                if len(text) >= ERROR_EXCERPT_CHARS:
                    break
            return response.status_code, text[:ERROR_EXCERPT_CHARS]


def _outcome_record(*, delivery: WebhookDelivery, attempt: int, response_code, error: str,
                    final: bool) -> WebhookDelivery:
    """Write the attempt's outcome and, after a failure that is not `final`, queue the next attempt:
    one transaction.

    Only the attempt that still holds the claim writes. One given up as stranded by the sweeper
    and since overtaken by a newer attempt leaves the outcome to that one.
    """
    now = timezone.now()
    fields = {"response_code": response_code, "error": error}
    if not error:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now)
    elif final or attempt >= MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.FAILED)
    else:
        fields.update(next_attempt_at=now + timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
    with transaction.atomic():
        recorded = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=attempt, next_attempt_at=None
        ).update(**fields)
        if recorded and fields.get("next_attempt_at"):
            _deliver_enqueue(delivery.pk, at=fields["next_attempt_at"])
    if not recorded:
        logger.warning("webhook delivery %s attempt %s was overtaken; its outcome is dropped", delivery.pk, attempt)
    elif error:
        logger.warning("webhook delivery %s attempt %s failed: %s", delivery.pk, attempt, error)
    delivery.refresh_from_db()
    return delivery


def webhook_delivery_retry(*, delivery_id) -> bool:
    """Make a delivery due now and queue its task (the admin's "retry now"); False, changing
    nothing, for one that succeeded or has an attempt in flight."""
    now = timezone.now()
    with transaction.atomic():
        changed = (
            WebhookDelivery.objects.filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
            .exclude(_in_flight(now))
            .update(status=DeliveryStatus.PENDING, next_attempt_at=now)
        )
        if changed:
            _deliver_enqueue(delivery_id)
    return changed == 1


def _in_flight(now: datetime) -> Q:
    """Deliveries with an attempt claimed and running (not yet given up as stranded)."""
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__isnull=True, attempts__gt=0,
             last_attempt_at__gt=now - STRANDED_AFTER)


# Sweeping ------------------------------------------------------------------------------------


def webhook_sweep(*, now: datetime) -> int:
    """Queue the pending deliveries no task is coming for; returns how many were queued.

    Those are a retry that is due (its held task should have come; a broker that cannot hold one
    left it here), an attempt claimed longer ago than STRANDED_AFTER with no outcome (its worker
    died), and a delivery never attempted UNATTEMPTED_GRACE after it was written (its task was
    lost). At most SWEEP_BATCH, oldest first, queued in one transaction. Idempotent: a delivery
    whose own task does come as well is attempted once.
    """
    due = Q(status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, attempts__gt=0, last_attempt_at__lte=now - STRANDED_AFTER)
        | Q(next_attempt_at__isnull=True, attempts=0, created_at__lte=now - UNATTEMPTED_GRACE)
    )
    delivery_ids = list(
        WebhookDelivery.objects.filter(due).order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    with transaction.atomic():
        for delivery_id in delivery_ids:
            _deliver_enqueue(delivery_id)
    return len(delivery_ids)
