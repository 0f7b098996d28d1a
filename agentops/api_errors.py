"""The API's exception handler: every exception DRF can answer becomes the error envelope.

Apart from agentops.api because it needs rest_framework.views, which imports agentops.api itself
(the parser and the paginator named in DRF's settings).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from .api import ApiError, error_body, payload_too_large

_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",  # as agentops.ratelimit's own refusals
}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = payload_too_large()
    elif isinstance(exc, TooManyFieldsSent):
        exc = ApiError("too_many_fields", str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (agentops.views.server_error) takes over
    if isinstance(exc, ApiError):
        code, message, details = exc.error_code, str(exc.detail), exc.details
    elif isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid", "The request is not valid; see details.", exc.detail
    else:
        code = _CODES.get(type(exc), getattr(exc, "default_code", "error"))
        message, details = str(exc.detail), getattr(exc, "details", None)
    response.data = error_body(code, message, details)
    return response
