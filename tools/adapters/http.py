"""HTTP/REST tools: one request per call, built from a URL template and the arguments.

Configuration:
    method             GET (default), POST, PUT, PATCH or DELETE
    url                "https://api.example.com/orders/{order_id}": `{name}` is replaced by the
                       URL-quoted argument; `{{ secret:NAME }}` by a secret. The scheme and host are
                       literal, so the model cannot choose where the request goes.
    headers            {"Authorization": "Bearer {{ secret:CRM_TOKEN }}"}
    query              ["status", "limit"]: arguments sent as query parameters
    body               "arguments" (JSON object of the arguments not used in the path or query;
                       default for POST/PUT/PATCH) or "none" (default otherwise)
    expected_statuses  statuses that count as success (default: any 2xx)

Every request carries `Idempotency-Key: <run id>:<seq>`, the same on every retry of a call.
A success returns the parsed JSON body (text if it is not JSON, None if empty). Failures: 408, 425,
429 and 5xx, timeouts and network errors are retryable (429 and 503 pass on `Retry-After`); any
other status is not, and its error text is included, redacted. A tenant's tool connects only where
`agentops.outbound` allows; a refused address is an error with the code `outbound_address_refused`,
never retried.

Delivery (tools.adapters.base): nothing is sent when connecting fails (refused, DNS, connect
timeout, TLS handshake, no free connection) or the request cannot be built; 408, 425 and 429 and
other 4xx are answers that nothing was done (`sent`); a read or write timeout, a connection lost
after connecting (the request may have been written), a 5xx and an unreadable body are `maybe_sent`.
"""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any
from urllib.parse import quote

import httpx

from agentops.outbound import OutboundRefused
from agentops.outbound.clients import http_client
from agentops.secrets.references import REFERENCE
from agentops.secrets.resolver import SecretError
from tools.adapters.base import (
    Adapter, AdapterError, Delivery, Invocation, require_str, require_str_map, url_target,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # the server says it did not process the request
ERROR_TEXT_LIMIT = 500

# One pass over the template for both kinds of placeholder, so text substituted for one is never
# scanned again as the other (an argument that looks like a secret reference stays literal).
_PLACEHOLDER = re.compile(REFERENCE.pattern + r"|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ARGUMENT = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
# After secret references are blanked out: a literal scheme and a host without placeholders.
_FIXED_ORIGIN = re.compile(r"^https?://[^/?#{}\s]+(?:[/?#]|$)", re.IGNORECASE)


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def status_delivery(status: int) -> Delivery:
    """A 5xx does not say whether the request was carried out; any other status says it was not."""
    return Delivery.MAYBE_SENT if status >= 500 else Delivery.SENT


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_body(response: httpx.Response) -> Any:
    """The response body as JSON when it is JSON, else as text; None when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def send(adapter: Adapter, method: str, url: str, *, timeout: float, **kwargs: Any) -> httpx.Response:
    """Send one request, turning transport failures into classified AdapterErrors.

    Redirects are not followed: a tool's endpoint is configured exactly, and following one would
    carry its credentials to wherever the server points. A guarded adapter (a tenant's tool)
    connects only where `agentops.outbound` allows; a refusal is final.
    """
    try:
        with http_client(guarded=adapter.guarded, timeout=timeout) as client:
            return client.request(method, url, **kwargs)
    except OutboundRefused as refusal:
        raise adapter.refused(refusal) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # No connection, so no request: DNS, refused, unreachable, TLS handshake (an ssl.SSLError
        # is an OSError, which httpcore raises as ConnectError while connecting).
        raise adapter.unsent(f"{method} {url} cannot connect: {exc or type(exc).__name__}", retryable=True) from None
    except httpx.TimeoutException as exc:
        # Read or write timeout: the request, or part of it, may have reached the server.
        raise adapter.error(
            f"{method} {url} timed out after {timeout:g}s ({type(exc).__name__}).", retryable=True
        ) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise adapter.error(f"{method} {url} failed: {exc}", retryable=True) from None
    except httpx.DecodingError as exc:  # an answer came, unreadable: whatever it said may have happened
        raise adapter.error(f"{method} {url} sent an unreadable response: {exc}", retryable=False) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise adapter.unsent(f"{method} {url} cannot be sent: {exc}") from None


def status_error(adapter: Adapter, method: str, url: str, response: httpx.Response) -> AdapterError:
    """The AdapterError for an unexpected status, with the response's error text."""
    status = response.status_code
    text = response.text.strip()
    if len(text) > ERROR_TEXT_LIMIT:
        text = text[:ERROR_TEXT_LIMIT] + "…"
    message = f"{method} {url} returned HTTP {status}" + (f": {text}" if text else ".")
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return adapter.error(message, retryable=is_retryable_status(status), status=status, retry_after=retry_after,
                         delivery=status_delivery(status))


class HttpAdapter(Adapter):
    kind = "http"

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        method = str(config.get("method", "GET")).upper()
        if method not in METHODS:
            raise ValueError(f"http tool: 'method' must be one of {', '.join(METHODS)}.")
        url = require_str(config, "url", kind="http")
        if not _FIXED_ORIGIN.match(REFERENCE.sub("secret", url)):
            raise ValueError(
                "http tool: 'url' must start with http:// or https:// and a host without "
                "{argument} placeholders."
            )
        require_str_map(config, "headers", kind="http")
        query = config.get("query") or []
        if not isinstance(query, list) or not all(isinstance(q, str) for q in query):
            raise ValueError("http tool: 'query' must be a list of argument names.")
        if config.get("body", "arguments") not in ("arguments", "none"):
            raise ValueError("http tool: 'body' must be \"arguments\" or \"none\".")
        expected = config.get("expected_statuses")
        if expected is not None and not (
            isinstance(expected, list)
            and expected
            and all(isinstance(s, int) and 100 <= s <= 599 for s in expected)
        ):
            raise ValueError("http tool: 'expected_statuses' must be a non-empty list of HTTP statuses.")

    @classmethod
    def outbound_target(cls, config: dict) -> tuple[str, int] | None:
        return url_target(config.get("url"))

    def call(self, invocation: Invocation) -> Any:
        method = str(self.config.get("method", "GET")).upper()
        arguments = invocation.arguments
        template = self.config["url"]

        path_names = set(_ARGUMENT.findall(REFERENCE.sub("", template)))
        missing = sorted(path_names - arguments.keys())
        if missing:
            raise self.unsent(f"Missing URL argument(s): {', '.join(missing)}.")
        url = self._render_url(template, arguments)

        query_names = [name for name in self.config.get("query") or [] if name in arguments]
        params = {name: arguments[name] for name in query_names}
        default_body = "arguments" if method in ("POST", "PUT", "PATCH") else "none"
        kwargs: dict[str, Any] = {"params": params}
        if self.config.get("body", default_body) == "arguments":
            used = path_names | set(query_names)
            kwargs["json"] = {k: v for k, v in arguments.items() if k not in used}

        headers = {"Accept": "application/json"}
        headers.update(self.resolve_secrets(self.config.get("headers") or {}))
        headers["Idempotency-Key"] = invocation.idempotency_key

        response = send(self, method, url, timeout=invocation.timeout, headers=headers, **kwargs)
        expected = self.config.get("expected_statuses")
        ok = response.status_code in expected if expected else response.is_success
        if not ok:
            raise status_error(self, method, url, response)
        return self.secrets.redact(parse_body(response))

    def _render_url(self, template: str, arguments: dict) -> str:
        def substitute(match: re.Match) -> str:
            secret, argument = match.group(1), match.group(2)
            if secret:
                try:
                    return quote(self.secrets.get(secret), safe="")
                except SecretError as exc:
                    raise AdapterError(str(exc), retryable=False, delivery=Delivery.NOT_SENT) from None
            return quote(_scalar(arguments[argument]), safe="")

        return _PLACEHOLDER.sub(substitute, template)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
