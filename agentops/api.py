"""Shared pieces of the v1 API: the error envelope, the JSON body parser, strict input, pagination
(limit/offset, or by cursor for the lists that must stay fast however long they grow).

Every error leaves as `{"error": {"code": ..., "message": ..., "details": ...}}` with its 4xx/5xx
status, whether DRF raised it (validation, auth, throttling), a service raised a domain error, the
body could not be read (agentops.api_errors turns them into the envelope), or no endpoint matched
the path (agentops.views).

DRF imports the parser and the paginator named in its settings while it defines its views, so
this module must not import rest_framework.views (the exception handler lives apart for that).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, pagination, parsers, serializers, status
from rest_framework.utils.urls import replace_query_param

from .keyset import InvalidCursor, KeysetQuery, Page

API_PREFIX = "/api/"
MAX_JSON_DEPTH = 64
# The largest integer a query parameter may carry: beyond it SQLite or PostgreSQL refuse the value.
MAX_QUERY_INT = 2**31 - 1


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


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(code: str, message: str, *, status: int, details=None) -> JsonResponse:
    """The envelope outside DRF: for paths no endpoint matched and for the last-resort 500."""
    return JsonResponse(error_body(code, message, details), status=status)


def payload_too_large() -> ApiError:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ApiError("payload_too_large", f"The request body is larger than {limit} bytes.",
                    status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


# -- request bodies ------------------------------------------------------------------------------

class JSONParser(parsers.JSONParser):
    """JSON bodies, within limits that keep a hostile body from costing more than a 400.

    The body is read up to `DATA_UPLOAD_MAX_MEMORY_SIZE` whether or not it declared a length (413
    `payload_too_large`). Nesting deeper than MAX_JSON_DEPTH is a 400 `too_deep`: the parser
    recurses once per level, so a body deeper than the interpreter's recursion limit stops it with
    a RecursionError, and a shallower one is measured once parsed. NaN, infinities and NUL
    characters, which no database column stores, are refused like any malformed body (400
    `invalid_json`).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = _read_within_limit(stream).decode(encoding)
        except UnicodeDecodeError:
            raise ApiError("invalid_json", f"The request body is not valid {encoding}.") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise too_deep() from None
        except ValueError as exc:
            raise ApiError("invalid_json", f"The request body is not valid JSON: {exc}") from None
        if _deeper_than(data, MAX_JSON_DEPTH):
            raise too_deep()
        if _contains_nul(data):
            raise ApiError("invalid_json", "Strings in the request body may not contain NUL (\\u0000).")
        return data


def too_deep() -> ApiError:
    return ApiError("too_deep", f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")


def _read_within_limit(stream) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream.read()
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise payload_too_large()
    return b"".join(chunks)


def _deeper_than(value, levels: int) -> bool:
    """Whether `value` nests objects or arrays more than `levels` deep (it recurses at most that far)."""
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    return levels == 0 or any(_deeper_than(child, levels - 1) for child in children)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


class StrictInputMixin:
    """For the serializers of request bodies: what the endpoint would not use is refused, not ignored.

    A field the serializer cannot write (unknown, or read-only such as `tenant` or `status`) is a
    400 `unknown_field` naming it; a string field given a number or a boolean is a 400 `invalid`
    (DRF's CharField would turn 42 into "42").
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise ApiError("unknown_field", f"Unknown field(s): {', '.join(unknown)}.",
                               details={name: ["This field is not accepted here."] for name in unknown})
            not_strings = {name: ["Not a valid string."] for name, field in self.fields.items()
                           if isinstance(field, serializers.CharField) and _given_but_not_a_string(data, name)}
            if not_strings:
                raise serializers.ValidationError(not_strings)
        return super().to_internal_value(data)


def _given_but_not_a_string(data: Mapping, name: str) -> bool:
    return name in data and data[name] is not None and not isinstance(data[name], str)


# -- query parameters --------------------------------------------------------------------------


def query_params(serializer_class, request) -> dict:
    """The request's query parameters validated by `serializer_class` (400 `invalid` otherwise)."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class PageParamsSerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500,
                                     help_text="Number of results to return per page (default 50).")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_QUERY_INT,
                                      help_text="The initial index from which to return the results.")


class Pagination(pagination.LimitOffsetPagination):
    """limit/offset pages; a limit or offset that is not a whole number in range is a 400 `invalid`."""

    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None):
        self._params = query_params(PageParamsSerializer, request)
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        return self._params.get("limit", self.default_limit)

    def get_offset(self, request):
        return self._params.get("offset", 0)

    def get_schema_operation_parameters(self, view):
        fields = PageParamsSerializer().fields
        return [{"name": name, "required": False, "in": "query", "description": field.help_text,
                 "schema": {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}}
                for name, field in fields.items()]


class CursorParamsSerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="A `next` or `previous` cursor from the page before; none: the newest.")
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500,
                                     help_text="Number of results to return per page (default 50).")


def cursor_page(query: KeysetQuery, request) -> tuple[Page, dict]:
    """The page of `query` that `?cursor=&limit=` ask for (400 `invalid_cursor` for a cursor this
    list did not give out), and the `next`/`previous` links of the answer."""
    params = query_params(CursorParamsSerializer, request)
    try:
        cursor = query.cursor(params["cursor"]) if params.get("cursor") else None
    except InvalidCursor as error:
        raise ApiError(error.code, error.message) from None
    page = query.page(cursor=cursor, size=params["limit"])
    return page, {"next": _cursor_link(request, page.next), "previous": _cursor_link(request, page.previous)}


def _cursor_link(request, cursor) -> str | None:
    if cursor is None:
        return None
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor.encode())


class ApiRequestMiddleware:
    """Under /api/, what must not reach an endpoint is answered here with the envelope.

    - A NUL character in the path or the query string: 400 `invalid`. No database column stores
      one (PostgreSQL refuses it in any string), so it must not reach a filter or a lookup.
    - A body without Content-Length (chunked): 411 `length_required`. Django and DRF read only the
      declared length, so the body would silently count as empty.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            if "\x00" in request.path or "\x00" in unquote_plus(request.META.get("QUERY_STRING", "")):
                return error_response("invalid", "The path and the query may not contain NUL (%00).", status=400)
            if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
                return error_response("length_required", "Send the request body with a Content-Length header.",
                                      status=411)
        return self.get_response(request)
