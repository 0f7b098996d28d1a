"""A tenant's webhooks and every event delivered to them.

A delivery is `pending` until its outcome is final (`succeeded`, or `failed` after the last
attempt). While pending it is in one of three states, told apart by its columns:

    never attempted     attempts 0, next_attempt_at empty
    attempt in flight   attempts ≥ 1, next_attempt_at empty, last_attempt_at when it was claimed
    waiting to retry    next_attempt_at set

(see agentops.webhooks.services, which moves a delivery between them).
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import models

from agentops.outbound import url_refusal
from agentops.secrets.references import REFERENCE


def validate_secret_reference(value: str) -> None:
    """A webhook secret must be exactly one `{{ secret:NAME }}` reference, never a value."""
    if not REFERENCE.fullmatch(value.strip()):
        raise ValidationError(
            "Enter a secret reference such as {{ secret:ACME_WEBHOOK_SECRET }} and set the value as one of the "
            "tenant's secrets (Secrets in the admin, or PUT /api/v1/secrets/ACME_WEBHOOK_SECRET/)."
        )


class Webhook(models.Model):
    """An HTTP(S) endpoint of a tenant that receives signed JSON events.

    Its URL may not name an address tenants may not reach (`agentops.outbound`): `clean` refuses
    what can be seen as written, and every delivery checks the address it connects to.

    `secret` holds a reference such as `{{ secret:ACME_WEBHOOK_SECRET }}`, resolved from the webhook's
    tenant's own secrets (agentops.secrets, stored encrypted) at delivery time, never the value:
    rotating one is a change of that secret, not of the webhook.
    """

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=200,
        validators=[validate_secret_reference],
        help_text="A secret reference, e.g. {{ secret:ACME_WEBHOOK_SECRET }}; the value signs every delivery.",
    )
    events = models.JSONField(
        default=list, blank=True, help_text='Event names, e.g. ["approval.requested", "run.failed"]; "*" for all.'
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "name"]

    def __str__(self):
        return f"{self.name} → {self.url}"

    def clean(self):
        # What can be told without DNS; deliveries check the address they connect to.
        refusal = url_refusal(self.url)
        if refusal:
            raise ValidationError({"url": refusal})

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one webhook, with every attempt's outcome. Receivers dedupe on `uuid`."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=100)
    payload = models.JSONField(help_text="The JSON body, as sent.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sweeper's query (services.webhook_sweep): pending deliveries, oldest first. Only
            # the few pending rows are indexed, not the log of finished ones.
            models.Index(fields=["created_at"], condition=models.Q(status="pending"),
                         name="webhook_delivery_pending"),
        ]

    def __str__(self):
        return f"{self.event} → {self.webhook_id} ({self.status})"
