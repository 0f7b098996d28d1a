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
from http import HTTPStatus
from urllib.parse import unquote_plus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse
from django.db import models
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


class StrictText:
    """For the text fields a client writes: only a JSON string is text (DRF's CharField turns 42 and
    true into "42" and "True"), and its size is bounded, so each must be given a `max_length`."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def __init__(self, **kwargs):
        if kwargs.get("max_length") is None and not kwargs.get("read_only"):
            raise TypeError(f"{type(self).__name__} needs a max_length: a client must not store unbounded text")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictCharField(StrictText, serializers.CharField):
    pass


class StrictSlugField(StrictText, serializers.SlugField):
    pass


class StrictInputMixin:
    """For the serializers of request bodies: what the endpoint would not use is refused, not ignored.

    A field the serializer cannot write (unknown, or read-only such as `tenant` or `status`) is a
    400 `unknown_field` naming it. A ModelSerializer's text columns become strict text fields;
    one declared by hand must be a StrictCharField or StrictSlugField (the test suite checks every
    request body of the schema).
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictSlugField,
    }

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise ApiError("unknown_field", f"Unknown field(s): {', '.join(unknown)}.",
                               details={name: ["This field is not accepted here."] for name in unknown})
        return super().to_internal_value(data)


# -- query parameters --------------------------------------------------------------------------


def query_params(serializer_class, request, *, also=()) -> dict:
    """The request's query parameters validated by `serializer_class` (400 `invalid` otherwise).

    A parameter that is neither one of its fields nor named in `also` is a 400 `unknown_parameter`:
    a misspelt filter (`?stauts=failed`) must not silently list everything.
    """
    unknown = sorted(set(request.query_params) - set(serializer_class().fields) - set(also))
    if unknown:
        raise ApiError("unknown_parameter", f"Unknown query parameter(s): {', '.join(unknown)}.",
                       details={name: ["This parameter is not accepted here."] for name in unknown})
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class NoFiltersSerializer(serializers.Serializer):
    """The filters of a list that has none."""


def list_filters(view, serializer_class=NoFiltersSerializer) -> dict:
    """The filters of a list view, validated by `serializer_class` as `query_params` does; the
    parameters of the view's paginator (limit and offset, say) are accepted besides."""
    paginator = getattr(view, "paginator", None)
    paging = [param["name"] for param in paginator.get_schema_operation_parameters(view)] if paginator else []
    return query_params(serializer_class, view.request, also=paging)


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
        page = PageParamsSerializer(data={name: request.query_params[name] for name in ("limit", "offset")
                                          if name in request.query_params})
        page.is_valid(raise_exception=True)
        self._params = page.validated_data
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


CURSOR_PARAMS = ("cursor", "limit")


class CursorParamsSerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="A `next` or `previous` cursor from the page before; none: the newest.")
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500,
                                     help_text="Number of results to return per page (default 50).")


def cursor_page(query: KeysetQuery, request) -> tuple[Page, dict]:
    """The page of `query` that `?cursor=&limit=` ask for (400 `invalid_cursor` for a cursor this
    list did not give out), and the `next`/`previous` links of the answer. The view's filters refuse
    parameters no one knows (`query_params(..., also=CURSOR_PARAMS)`); here only the paging ones."""
    paging = CursorParamsSerializer(data=request.query_params)
    paging.is_valid(raise_exception=True)
    params = paging.validated_data
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
    """Under /api/, what must not reach an endpoint is answered here with the envelope, and no
    error leaves in another format.

    - A NUL character in the path or the query string: 400 `invalid`. No database column stores
      one (PostgreSQL refuses it in any string), so it must not reach a filter or a lookup.
    - A body without Content-Length (chunked): 411 `length_required`. Django and DRF read only the
      declared length, so the body would silently count as empty.
    - An error answered in anything but JSON (the OpenAPI views' YAML or HTML, Django's own pages)
      is replaced by the envelope with the same status, its Allow and Retry-After headers kept.
    """

    KEPT_HEADERS = ("Allow", "Retry-After")
    # Both: under ASGI Django would adapt a synchronous one, a hop to a thread and back.
    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        return self.refusal(request) or self.enveloped(self.get_response(request))

    async def __acall__(self, request):
        if not request.path.startswith(API_PREFIX):
            return await self.get_response(request)
        return self.refusal(request) or self.enveloped(await self.get_response(request))

    @staticmethod
    def refusal(request) -> JsonResponse | None:
        if "\x00" in request.path or "\x00" in unquote_plus(request.META.get("QUERY_STRING", "")):
            return error_response("invalid", "The path and the query may not contain NUL (%00).", status=400)
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            return error_response("length_required", "Send the request body with a Content-Length header.",
                                  status=411)
        return None

    def enveloped(self, response):
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            return _as_envelope(response, self.KEPT_HEADERS)
        return response


# The codes of the statuses an error may have outside the endpoints' own handling.
_STATUS_CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
                 415: "unsupported_media_type", 429: "rate_limited", 500: "server_error"}


def _as_envelope(response, kept_headers) -> JsonResponse:
    status_code = response.status_code
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:  # a status with no standard name
        phrase = "Error"
    envelope = error_response(_STATUS_CODES.get(status_code, "error"), f"{phrase}.", status=status_code)
    for header in kept_headers:
        if header in response:
            envelope[header] = response[header]
    return envelope
