"""Writes of the demo billing system (the stand-in for an outside payment provider)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F

from agentops.tenancy.models import Tenant

from .models import DemoOrder, DemoRefund


class BillingError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def request_hash(*, order_id: str, amount: Decimal, reason: str) -> str:
    canonical = json.dumps({"order_id": order_id, "amount": str(amount), "reason": reason}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def demo_refund_create(*, tenant: Tenant, idempotency_key: str, order_id: str, amount: Decimal,
                       reason: str = "") -> tuple[DemoRefund, bool]:
    """Refund `amount` of an order once per idempotency key; returns (refund, replayed).

    A key seen before returns the refund it made, without refunding again; the same key with a
    different request is refused (422), as a reused key is a client bug. Locks the order row, so
    concurrent refunds of one order cannot exceed its amount. One transaction.
    """
    digest = request_hash(order_id=order_id, amount=amount, reason=reason)
    try:
        with transaction.atomic():
            order = DemoOrder.objects.select_for_update().filter(tenant=tenant, order_id=order_id).first()
            existing = DemoRefund.objects.select_related("order").filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replayed(existing, digest), True
            if order is None:
                raise BillingError(404, "unknown_order", f"No order {order_id}.")
            refundable = order.amount - order.refunded_amount
            if amount > refundable:
                raise BillingError(422, "amount_too_large", f"Order {order_id} has {refundable} {order.currency} "
                                                            f"left to refund; asked {amount}.")
            refund = DemoRefund.objects.create(tenant=tenant, order=order, idempotency_key=idempotency_key,
                                               request_hash=digest, amount=amount, reason=reason)
            fully = amount == refundable
            DemoOrder.objects.filter(pk=order.pk).update(
                refunded_amount=F("refunded_amount") + amount,
                **({"status": DemoOrder.Status.REFUNDED} if fully else {}),
            )
            return refund, False
    except IntegrityError:  # the same key committed concurrently: that request won
        existing = DemoRefund.objects.select_related("order").get(idempotency_key=idempotency_key)
        return _replayed(existing, digest), True


def _replayed(refund: DemoRefund, digest: str) -> DemoRefund:
    if refund.request_hash != digest:
        raise BillingError(422, "idempotency_key_reused",
                           "This Idempotency-Key was used for a different refund request.")
    return refund
