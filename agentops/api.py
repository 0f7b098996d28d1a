"""Shared pieces of the v1 API: the error envelope and pagination.

Every error leaves as `{"error": {"code": ..., "message": ..., "details": ...}}` with its 4xx/5xx
status, whether DRF raised it (validation, auth, throttling) or a service raised a domain error.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """A domain error with a stable machine-readable code, raised by endpoints."""

    def __init__(self, code: str, message: str, *, status_code: int = status.HTTP_400_BAD_REQUEST, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


class ApiErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True)


class ApiErrorSerializer(serializers.Serializer):
    """The error envelope, for the OpenAPI description of an endpoint's 4xx answers."""

    error = ApiErrorBodySerializer()


_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",  # as agentops.ratelimit's own refusals
}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over
    if isinstance(exc, ApiError):
        code, message, details = exc.error_code, str(exc.detail), exc.details
    elif isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid", "The request is not valid; see details.", exc.detail
    else:
        code = _CODES.get(type(exc), getattr(exc, "default_code", "error"))
        message, details = str(exc.detail), getattr(exc, "details", None)
    response.data = {"error": {"code": code, "message": message, "details": details}}
    return response


class Pagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
