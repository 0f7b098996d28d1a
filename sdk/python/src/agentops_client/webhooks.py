"""Verifying the webhooks AgentOps sends. Each delivery is signed:

    X-AgentOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the secret>

Verify the raw body, as received, before parsing it:

    event = webhooks.verify(request.body, request.headers, secret=os.environ["AGENTOPS_WEBHOOK_SECRET"])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

from .errors import WebhookVerificationError

SIGNATURE_HEADER = "X-AgentOps-Signature"
DEFAULT_TOLERANCE = 300


def verify(payload: Union[bytes, str], headers: Mapping[str, str], secret: str, tolerance: int = DEFAULT_TOLERANCE,
           *, now: Optional[float] = None) -> Any:
    """The delivery's JSON body once its signature is checked; raises WebhookVerificationError
    when the header is missing or malformed, no `v1` signature matches, or its timestamp is more
    than `tolerance` seconds from now (a replayed delivery)."""
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    timestamp, signatures = _parse(_header(headers))
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise WebhookVerificationError(f"The signature's timestamp is more than {tolerance} s from now.")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise WebhookVerificationError("No signature matches the body and the secret.")
    try:
        return json.loads(body)
    except ValueError as error:
        raise WebhookVerificationError(f"The body is not JSON: {error}") from None


def _header(headers: Mapping[str, str]) -> str:
    wanted = SIGNATURE_HEADER.lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            return value
    raise WebhookVerificationError(f"No {SIGNATURE_HEADER} header.")


def _parse(header: str):
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError(f"Malformed {SIGNATURE_HEADER} header: {header!r}.")
    return timestamp, signatures
