"""Outgoing webhooks: signed JSON events for a tenant's endpoints, delivered with retries.

`webhook_emit` is the one way to send an event (approvals send `approval.*`, the engine
`run.succeeded`, `run.failed`, `run.waiting`). It writes one WebhookDelivery per subscribed
webhook in the caller's transaction, a transactional outbox: an event exists exactly when the
change that caused it commits. The deliveries are enqueued after commit.

Each attempt POSTs the JSON body with

    X-AgentOps-Event: approval.requested
    X-AgentOps-Delivery: <uuid, the same for every attempt: receivers dedupe on it>
    X-AgentOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the secret>

Receivers recompute the HMAC over the raw body and refuse timestamps older than a few minutes
(`webhook_signature_verify` does both). A failed attempt is retried with exponential backoff:
the next attempt is a django-q2 `Schedule` of type ONCE at `next_attempt_at`. A schedule row, not
a sleeping task: it survives restarts, holds no worker while it waits, works with either broker,
and deletes itself once it fired. After `MAX_ATTEMPTS` the delivery is `failed`; the admin can
retry it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta

import httpx
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agentops import config_cache
from agentops.secrets import SecretError, SecretResolver

from .models import DeliveryStatus, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AgentOps-Signature"
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30  # 30 s, 1 min, 2 min, ... about an hour over all attempts
TIMEOUT_SECONDS = 10
SIGNATURE_TOLERANCE_SECONDS = 300
DELIVER_TASK = "approvals.tasks.deliver_webhook"


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

    Writes in the caller's transaction (or its own) and enqueues after commit, so a rolled-back
    change sends nothing. Not idempotent: each call is a new event with its own delivery ids.
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
            deliveries.append(WebhookDelivery.objects.create(webhook=hook, uuid=delivery_uuid, event=event,
                                                             payload=body))
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(delivery_ids) -> None:
    from django_q.tasks import async_task

    for delivery_id in delivery_ids:
        try:
            async_task(DELIVER_TASK, delivery_id, group="webhooks")
        except Exception:  # a broker outage must not fail the committed change; the admin can retry
            logger.exception("could not enqueue webhook delivery %s", delivery_id)


# Delivering ----------------------------------------------------------------------------------


def webhook_delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """Make the next attempt of a pending delivery; returns it, or None when there was nothing to do.

    Idempotent: a delivery that succeeded or gave up is left alone, one whose next attempt is not
    yet due is left for its schedule, and the claim is a compare-and-swap on `attempts`, so a
    duplicated task never makes the same attempt twice. The HTTP call happens outside any
    transaction; the outcome (and the retry schedule) is written in one transaction afterwards.
    """
    delivery = (
        WebhookDelivery.objects.select_related("webhook", "webhook__tenant")
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING).first()
    )
    now = timezone.now()
    if delivery is None or (delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=5)):
        return None
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None)
    if claimed != 1:
        return None
    response_code, error = _post(delivery)
    return _outcome_record(delivery=delivery, attempt=delivery.attempts + 1, response_code=response_code, error=error)


def _post(delivery) -> tuple[int | None, str]:
    """POST the signed payload; (status code, error text), error empty on a 2xx."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        secret = SecretResolver().resolve(delivery.webhook.secret)
    except SecretError as exc:
        return None, f"signing secret: {exc}"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "AgentOps-Webhooks/1",
        "X-AgentOps-Event": delivery.event,
        "X-AgentOps-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: webhook_sign(secret=secret, body=body, timestamp=int(time.time())),
    }
    try:
        response = httpx.post(delivery.webhook.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS,
                              follow_redirects=False)
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:1000]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:500]}"


def _outcome_record(*, delivery, attempt: int, response_code, error: str) -> WebhookDelivery:
    now = timezone.now()
    fields = {"response_code": response_code, "error": error}
    if not error:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now)
    elif attempt >= MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.FAILED)
    else:
        fields.update(next_attempt_at=now + timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if fields.get("next_attempt_at"):
            _retry_schedule(delivery_id=delivery.pk, attempt=attempt + 1, at=fields["next_attempt_at"])
    if error:
        logger.warning("webhook delivery %s attempt %s failed: %s", delivery.pk, attempt, error)
    delivery.refresh_from_db()
    return delivery


def _retry_schedule(*, delivery_id, attempt: int, at) -> None:
    from django_q.models import Schedule

    Schedule.objects.create(
        name=f"webhook delivery {delivery_id} attempt {attempt}", func=DELIVER_TASK, args=repr(delivery_id),
        schedule_type=Schedule.ONCE, repeats=-1, next_run=at,
    )


def webhook_delivery_retry(*, delivery) -> None:
    """Make a pending or failed delivery due now and enqueue it (the admin's "retry now")."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.SUCCEEDED).update(
            status=DeliveryStatus.PENDING, next_attempt_at=None,
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
