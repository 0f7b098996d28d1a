"""A demo billing API served by the app itself: `POST /demo/billing/refunds`.

It stands in for a payment provider so that the `billing.refund` HTTP tool has something real to
call. Like one, it requires a bearer token and honours `Idempotency-Key`: a repeated key returns
the first refund (HTTP 200, `Idempotent-Replayed: true`) instead of refunding twice. The
`Billing-Account` header names the tenant whose orders are refunded.

The endpoint's token is the environment variable DEMO_BILLING_TOKEN; with DEBUG on and the
variable unset, the development token `DEV_TOKEN`. With DEBUG off and no token it answers 404.
`seed_demo` stores the same token as the demo tenant's secret DEMO_BILLING_TOKEN (encrypted),
which the tool's configuration references as `{{ secret:DEMO_BILLING_TOKEN }}`.

Request:  {"order_id": "1042", "amount": 12.5, "reason": "damaged"}
Response: {"refund_id": "re_000001", "order_id": "1042", "amount": 12.5, "currency": "USD", ...}
"""

from __future__ import annotations

import hmac
import json
import os
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agentops.tenancy.models import Tenant

from .services import BillingError, demo_refund_create

TOKEN_NAME = "DEMO_BILLING_TOKEN"
DEV_TOKEN = "demo-billing-dev-token"


def configured_token() -> str:
    return os.environ.get(TOKEN_NAME) or (DEV_TOKEN if settings.DEBUG else "")


@csrf_exempt  # a machine-to-machine API authenticated by a bearer token, not a browser form
@require_POST
def refund_create(request):
    token = configured_token()
    if not token:
        return _error(404, "not_found", "The demo billing endpoint is not configured.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = _error(401, "unauthorized", "A valid bearer token is required.")
        response["WWW-Authenticate"] = "Bearer"
        return response
    try:
        key, tenant, order_id, amount, reason = _parse(request)
        refund, replayed = demo_refund_create(tenant=tenant, idempotency_key=key, order_id=order_id,
                                              amount=amount, reason=reason)
    except BillingError as exc:
        return _error(exc.status, exc.code, exc.message)
    response = JsonResponse(refund.as_dict(), status=200 if replayed else 201)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _parse(request) -> tuple[str, Tenant, str, Decimal, str]:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 200:
        raise BillingError(400, "idempotency_key_required", "Send an Idempotency-Key header (at most 200 characters).")
    tenant = Tenant.objects.filter(slug=request.headers.get("Billing-Account", "")).first()
    if tenant is None:
        raise BillingError(400, "unknown_account", "Send the Billing-Account header with a known account.")
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise BillingError(400, "malformed_request", "The body must be JSON.") from None
    if not isinstance(body, dict):
        raise BillingError(400, "malformed_request", "The body must be a JSON object.")
    order_id, reason = str(body.get("order_id") or "").strip(), str(body.get("reason") or "")[:500]
    if not order_id:
        raise BillingError(400, "invalid", "order_id is required.")
    return key, tenant, order_id, _amount(body.get("amount")), reason


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BillingError(400, "invalid", "amount must be a number.") from None
    if isinstance(value, bool) or not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise BillingError(400, "invalid", "amount must be positive, with at most two decimals.")
    return amount.quantize(Decimal("0.01"))


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
