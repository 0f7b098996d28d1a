"""Errors raised by the client. Every error of the API carries its envelope's `code`, `message`
and `details` (`{"error": {"code", "message", "details"}}`) and the HTTP status."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional

import httpx


class AgentOpsError(Exception):
    """The base of every error this package raises."""


class APIError(AgentOpsError):
    """The API refused a request (`status_code` set) or could not be reached (`status_code` None)."""

    def __init__(self, message: str, *, code: str = "error", details: Any = None,
                 status_code: Optional[int] = None, response: Optional[httpx.Response] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details
        self.status_code = status_code
        self.response = response

    def __str__(self) -> str:
        where = f"{self.status_code} " if self.status_code else ""
        return f"{where}{self.code}: {self.message}"


class BadRequestError(APIError):
    """400 or 422: the request was invalid (`details` maps fields to their problems)."""


class AuthenticationError(APIError):
    """401: no API key, or one the server does not know."""


class PermissionDeniedError(APIError):
    """403: the key's role or scopes do not allow this."""


class NotFoundError(APIError):
    """404: no such object in the key's tenant."""


class ConflictError(APIError):
    """409: the object's state refuses it (already decided, stale, not cancellable, ...)."""


class RateLimitError(APIError):
    """429: over the key's budget; `retry_after` is what the server asked to wait, in seconds."""

    @property
    def retry_after(self) -> Optional[float]:
        return retry_after_seconds(self.response) if self.response is not None else None


class InternalServerError(APIError):
    """5xx: the server failed; retried automatically before this is raised."""


class APIConnectionError(APIError):
    """The server could not be reached, or the connection dropped, after every retry."""

    def __init__(self, message: str = "Connection error.", *, code: str = "connection_error") -> None:
        super().__init__(message, code=code)


class APITimeoutError(APIConnectionError):
    """The request timed out after every retry."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message, code="timeout")


class RunWaitTimeout(AgentOpsError, TimeoutError):
    """`runs.wait` gave up before the run ended; `run` is how it was last seen."""

    def __init__(self, message: str, *, run: Any) -> None:
        super().__init__(message)
        self.run = run


class WebhookVerificationError(AgentOpsError):
    """A webhook delivery's signature is missing, wrong, or too old."""


STATUS_ERRORS = {
    400: BadRequestError, 422: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for an API answer of status 400 or more, read from its JSON envelope."""
    try:
        body = response.json()["error"]
        code, message, details = body["code"], body["message"], body.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", response.text[:500] or response.reason_phrase, None
    cls = STATUS_ERRORS.get(response.status_code, InternalServerError if response.status_code >= 500 else APIError)
    return cls(message, code=code, details=details, status_code=response.status_code, response=response)


def retry_after_seconds(response: httpx.Response) -> Optional[float]:
    """The Retry-After header in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None
