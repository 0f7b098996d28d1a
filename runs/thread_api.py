"""/api/v1/threads/: conversations across runs. A run joins one with `thread` (runs/api.py)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import CURSOR_PARAMS, ApiError, ApiErrorSerializer, CursorParamsSerializer, cursor_page, query_params
from agentops.audit.services import Actor
from agentops.memory.thread_selectors import thread_get_for_user, thread_list
from agentops.memory.threads import ThreadError, thread_create
from agentops.tenancy.permissions import request_principal

from .selectors import thread_runs
from .thread_serializers import ThreadCreateSerializer, ThreadDetailSerializer, ThreadPageSerializer, ThreadSerializer


class NoParams(CursorParamsSerializer):
    """Only the cursor's parameters."""


@extend_schema(tags=["threads"])
class ThreadListCreateApi(APIView):
    """The threads the caller sees, newest first (members see those they started; operators,
    developers and owners every thread of the tenant), or start one with its concurrency policy."""

    required_permissions = {"GET": ("view", "read"), "POST": ("run_agents", "runs:write")}

    @extend_schema(operation_id="v1_threads_list", parameters=[CursorParamsSerializer],
                   responses={200: ThreadPageSerializer,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid, invalid_cursor, "
                                                                                   "unknown_parameter")})
    def get(self, request):
        query_params(NoParams, request, also=CURSOR_PARAMS)
        page, links = cursor_page(thread_list(principal=request_principal(request)), request)
        return Response({**links, "results": ThreadSerializer(page.items, many=True).data})

    @extend_schema(request=ThreadCreateSerializer,
                   responses={201: ThreadSerializer,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid, unknown_field"),
                              409: OpenApiResponse(ApiErrorSerializer,
                                                   description="thread_exists: the tenant has a thread with this id")})
    def post(self, request):
        serializer = ThreadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, principal = serializer.validated_data, request_principal(request)
        try:
            thread = thread_create(tenant=principal.tenant, external_id=data["id"], title=data["title"],
                                   concurrency=data["concurrency"], user=principal.user,
                                   actor=Actor.from_request(request))
        except ThreadError as error:
            raise ApiError(error.code, error.message, status_code=status.HTTP_409_CONFLICT) from None
        return Response(ThreadSerializer(thread).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["threads"])
class ThreadDetailApi(APIView):
    """One thread with its latest runs, oldest first."""

    @extend_schema(responses={200: ThreadDetailSerializer,
                              404: OpenApiResponse(ApiErrorSerializer, description="not_found: no such thread here")})
    def get(self, request, thread_id: str):
        principal = request_principal(request)
        thread = thread_get_for_user(principal=principal, external_id=thread_id)
        if thread is None:
            raise ApiError("not_found", f"no thread {thread_id!r} in this tenant", status_code=status.HTTP_404_NOT_FOUND)
        thread.runs_shown = thread_runs(principal=principal, thread=thread)
        return Response(ThreadDetailSerializer(thread).data)
