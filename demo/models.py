"""Tables behind the demo tools: a knowledge base, customers, orders, tickets and refunds.

Every table is tenant-scoped like the rest of the product; the tools read `ctx.tenant`. Refunds
belong to the demo billing endpoint, which stands in for an outside system.

The tables live in the demo database (alias "demo", demo.routers), the demo shop's own, apart from
the platform's: its SQL tool `orders.lookup` reads it, read-only. They name tenants, runs and
users by id (`PLATFORM_ROW`): no constraint can reach another database, and deleting a tenant
leaves its demo rows behind in the demo database instead of cascading to them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

# A reference to a row of the platform's database (tenant, run, user) from the demo database.
PLATFORM_ROW = {"on_delete": models.DO_NOTHING, "db_constraint": False, "related_name": "+"}


class DemoArticle(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", **PLATFORM_ROW)
    slug = models.SlugField(max_length=100)
    title = models.CharField(max_length=200)
    body = models.TextField()
    tags = models.CharField(max_length=200, blank=True, help_text="Space-separated keywords.")

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="demo_article_slug_unique")]

    def __str__(self):
        return self.title


class DemoCustomer(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", **PLATFORM_ROW)
    customer_id = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    plan = models.CharField(max_length=20, default="basic")
    since = models.DateField()

    class Meta:
        ordering = ["customer_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer_id"], name="demo_customer_id_unique"),
            models.UniqueConstraint(fields=["tenant", "email"], name="demo_customer_email_unique"),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.name}"

    def as_dict(self) -> dict:
        return {"customer_id": self.customer_id, "name": self.name, "email": self.email,
                "plan": self.plan, "customer_since": self.since.isoformat()}


class DemoOrder(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"

    tenant = models.ForeignKey("tenancy.Tenant", **PLATFORM_ROW)
    order_id = models.CharField(max_length=20)
    customer = models.ForeignKey(DemoCustomer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROCESSING)
    items = models.JSONField(default=list, help_text='[{"sku", "name", "quantity", "unit_price"}]')
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    refunded_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["-placed_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "order_id"], name="demo_order_id_unique")]

    def __str__(self):
        return f"order {self.order_id}"

    def as_dict(self) -> dict:
        return {
            "order_id": self.order_id,
            "status": self.status,
            "amount": float(self.amount),
            "refunded_amount": float(self.refunded_amount),
            "currency": self.currency,
            "placed_at": self.placed_at.isoformat(),
            "items": self.items,
        }


class DemoTicket(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    tenant = models.ForeignKey("tenancy.Tenant", **PLATFORM_ROW)
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    customer_email = models.EmailField(blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=10, default="open")
    run = models.ForeignKey("runs.Run", null=True, blank=True, **PLATFORM_ROW)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, **PLATFORM_ROW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.ticket_id

    @property
    def ticket_id(self) -> str:
        return f"T-{self.pk}"


class DemoRefund(models.Model):
    """A refund made by the demo billing endpoint; `idempotency_key` makes a repeated request a no-op."""

    tenant = models.ForeignKey("tenancy.Tenant", **PLATFORM_ROW)
    order = models.ForeignKey(DemoOrder, on_delete=models.CASCADE, related_name="refunds")
    idempotency_key = models.CharField(max_length=200, unique=True)
    request_hash = models.CharField(max_length=64, help_text="Of the request body, to spot a reused key.")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.refund_id

    @property
    def refund_id(self) -> str:
        return f"re_{self.pk:06d}"

    def as_dict(self) -> dict:
        return {
            "refund_id": self.refund_id,
            "order_id": self.order.order_id,
            "amount": float(self.amount),
            "currency": self.order.currency,
            "reason": self.reason,
            "status": "succeeded",
            "created_at": self.created_at.isoformat(),
        }
