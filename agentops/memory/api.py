"""/api/v1/memory/: a tenant's long-term memory items. A member reads and writes their own user
items and the agent and tenant items; a role with `manage_memory` (owners) every user's, and
alone may forget a user or a thread. Writes go through agentops.memory.services, as the pages'."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import CURSOR_PARAMS, ApiError, ApiErrorSerializer, CursorParamsSerializer, cursor_page, query_params
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .models import MemoryScope
from .selectors import memory_get, memory_list, memory_search, scopes_within, visible_scopes
from .serializers import (
    MemoryBulkResultSerializer,
    MemoryBulkSerializer,
    MemoryForgetResultSerializer,
    MemoryForgetSerializer,
    MemoryItemCreateSerializer,
    MemoryItemSerializer,
    MemoryItemUpdateSerializer,
    MemoryListFilterSerializer,
    MemoryPageSerializer,
    MemorySearchParamsSerializer,
    MemorySearchSerializer,
)
from .services import MemoryError, memory_delete, memory_forget, memory_save, memory_save_bulk, memory_update

READ = ("view", "read")
WRITE = ("run_agents", "memory:write")
MANAGE = ("manage_memory", "memory:write")
ERRORS = {
    400: OpenApiResponse(ApiErrorSerializer, description="invalid (see details), unknown_field, unknown_parameter, "
                                                         "invalid_scope, invalid_subject, too_large, empty_content"),
    403: OpenApiResponse(ApiErrorSerializer, description="permission_denied, not_allowed (another user's items)"),
}
NOT_FOUND = {404: OpenApiResponse(ApiErrorSerializer, description="not_found: no such item you may see")}


def _scopes(request):
    return visible_scopes(request_principal(request))


def _check_writable(request, scope: str, subject: str) -> None:
    """A member writes their own user items only; agent and tenant items are shared."""
    if scope == MemoryScope.USER and subject != request_principal(request).user.get_username() \
            and not request_principal(request).membership.grants("manage_memory"):
        raise ApiError("not_allowed", "Only a role that manages memory writes another user's items.",
                       status_code=status.HTTP_403_FORBIDDEN)


def _api_error(error: MemoryError) -> ApiError:
    code = {"duplicate": status.HTTP_409_CONFLICT}.get(error.code, status.HTTP_400_BAD_REQUEST)
    return ApiError(error.code, error.message, status_code=code, details=error.details)


def _item_or_404(request, item_id: int):
    item = memory_get(tenant=request_principal(request).tenant, scopes=_scopes(request), item_id=item_id)
    if item is None:
        raise ApiError("not_found", f"No memory item {item_id} you may see.", status_code=status.HTTP_404_NOT_FOUND)
    return item


@extend_schema(tags=["memory"])
class MemoryListCreateApi(APIView):
    """The items you may see, newest first, a page at a time by cursor (filter by `scope`,
    `subject`, `kind`, `since`), or save one (merged into an item that says the same thing)."""

    required_permissions = {"GET": READ, "POST": WRITE}

    @extend_schema(operation_id="v1_memory_list", parameters=[MemoryListFilterSerializer, CursorParamsSerializer],
                   responses={200: MemoryPageSerializer, **ERRORS})
    def get(self, request):
        filters = query_params(MemoryListFilterSerializer, request, also=CURSOR_PARAMS)
        items = memory_list(tenant=request_principal(request).tenant, scopes=_scopes(request), **filters)
        page, links = cursor_page(items, request)
        return Response({**links, "results": MemoryItemSerializer(page.items, many=True).data})

    @extend_schema(request=MemoryItemCreateSerializer, responses={201: MemoryItemSerializer, **ERRORS})
    def post(self, request):
        data = MemoryItemCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _check_writable(request, data.validated_data["scope"], data.validated_data["subject"])
        principal = request_principal(request)
        try:
            item = memory_save(tenant=principal.tenant, created_by=principal.user, actor=Actor.from_request(request),
                               **data.validated_data)
        except MemoryError as error:
            raise _api_error(error) from None
        return Response(MemoryItemSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["memory"])
class MemoryBulkApi(APIView):
    """Save up to 1,000 items in one transaction: all or none. An error names the item's index."""

    required_permissions = {"POST": WRITE}

    @extend_schema(request=MemoryBulkSerializer, responses={201: MemoryBulkResultSerializer, **ERRORS})
    def post(self, request):
        body = MemoryBulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        items = [self._item(request, index, raw) for index, raw in enumerate(body.validated_data["items"])]
        principal = request_principal(request)
        try:
            saved = memory_save_bulk(tenant=principal.tenant, items=items, created_by=principal.user,
                                     actor=Actor.from_request(request))
        except MemoryError as error:
            raise _api_error(error) from None
        return Response({"results": MemoryItemSerializer(saved, many=True).data}, status=status.HTTP_201_CREATED)

    @staticmethod
    def _item(request, index: int, raw) -> dict:
        item = MemoryItemCreateSerializer(data=raw)
        try:
            item.is_valid(raise_exception=True)
            _check_writable(request, item.validated_data["scope"], item.validated_data["subject"])
        except serializers.ValidationError as error:
            raise ApiError("invalid", f"item {index} is invalid.", details={"index": index, "errors": error.detail}) from None
        except ApiError as error:
            raise ApiError(error.error_code, f"item {index}: {error.detail}", status_code=error.status_code,
                           details={"index": index, **(error.details or {})}) from None
        return item.validated_data


@extend_schema(tags=["memory"])
class MemoryDetailApi(APIView):
    """One item. PATCH changes its content, kind, metadata or expiry; DELETE removes it."""

    required_permissions = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(responses={200: MemoryItemSerializer, **NOT_FOUND})
    def get(self, request, pk: int):
        return Response(MemoryItemSerializer(_item_or_404(request, pk)).data)

    @extend_schema(request=MemoryItemUpdateSerializer, responses={200: MemoryItemSerializer, **ERRORS, **NOT_FOUND})
    def patch(self, request, pk: int):
        data = MemoryItemUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = _item_or_404(request, pk)
        try:
            item = memory_update(item=item, actor=Actor.from_request(request), **data.validated_data)
        except MemoryError as error:
            raise _api_error(error) from None
        return Response(MemoryItemSerializer(item).data)

    @extend_schema(responses={204: None, **NOT_FOUND})
    def delete(self, request, pk: int):
        memory_delete(item=_item_or_404(request, pk), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["memory"])
class MemorySearchApi(APIView):
    """The items that best answer `q`, best first, among those you may see."""

    required_permissions = {"GET": READ}

    @extend_schema(parameters=[MemorySearchParamsSerializer], responses={200: MemorySearchSerializer, **ERRORS})
    def get(self, request):
        params = query_params(MemorySearchParamsSerializer, request)
        scopes = scopes_within(_scopes(request), params.get("scope"), params.get("subject"))
        results = memory_search(tenant=request_principal(request).tenant, query=params["q"], scopes=scopes,
                                kind=params.get("kind"), metadata=params.get("metadata"), since=params.get("since"),
                                limit=params["limit"])
        return Response({"results": [{**MemoryItemSerializer(r.item).data, "score": r.score} for r in results]})


@extend_schema(tags=["memory"])
class MemoryForgetApi(APIView):
    """Erase everything about a user (their items, the words of their runs) or a thread (its runs'
    words and the items they wrote), in one transaction. Owners only. Answers with the counts."""

    required_permissions = {"POST": MANAGE}

    @extend_schema(request=MemoryForgetSerializer, responses={200: MemoryForgetResultSerializer, **ERRORS})
    def post(self, request):
        data = MemoryForgetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            counts = memory_forget(tenant=request_principal(request).tenant, actor=Actor.from_request(request),
                                   **data.validated_data)
        except MemoryError as error:
            raise _api_error(error) from None
        return Response(counts)
