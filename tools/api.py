from contextlib import contextmanager

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, list_filters
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .errors import ToolConflict, ToolInvalid
from .selectors import tool_get, tool_list
from .serializers import ToolCreateSerializer, ToolSerializer, ToolUpdateSerializer
from .services import tool_create, tool_update

WRITE = ("manage_tools", "tools:write")
CONFLICT = OpenApiResponse(ApiErrorSerializer, description="conflict: a tool of that name already exists")


@contextmanager
def _service_errors():
    try:
        yield
    except ToolInvalid as exc:
        raise ApiError(exc.code, "The tool is not valid; see details.", details=exc.details) from None
    except ToolConflict as exc:
        raise ApiError(exc.code, exc.message, status_code=status.HTTP_409_CONFLICT) from None


def _tool_or_404(request, name: str):
    tool = tool_get(tenant=request_principal(request).tenant, name=name)
    if tool is None:
        raise ApiError("not_found", f"No tool named {name}.", status_code=status.HTTP_404_NOT_FOUND)
    return tool


@extend_schema(tags=["tools"])
class ToolListApi(generics.ListAPIView):
    """The tools of the caller's tenant: its own and the global ones it does not shadow."""

    serializer_class = ToolSerializer
    required_permissions = {"POST": WRITE}

    def get_queryset(self):
        list_filters(self)
        return tool_list(tenant=request_principal(self.request).tenant)

    @extend_schema(request=ToolCreateSerializer, responses={201: ToolSerializer, 409: CONFLICT})
    def post(self, request):
        serializer = ToolCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        with _service_errors():
            tool = tool_create(tenant=request_principal(request).tenant, name=data.pop("name"),
                               kind=data.pop("kind"), actor=Actor.from_request(request), **data)
        return Response(ToolSerializer(tool).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["tools"])
class ToolDetailApi(APIView):
    """One tool by name. PATCH on a global tool changes the tenant's own copy (policies only)."""

    required_permissions = {"PATCH": WRITE}

    @extend_schema(responses=ToolSerializer)
    def get(self, request, name: str):
        return Response(ToolSerializer(_tool_or_404(request, name)).data)

    @extend_schema(request=ToolUpdateSerializer, responses=ToolSerializer)
    def patch(self, request, name: str):
        tool = _tool_or_404(request, name)
        serializer = ToolUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with _service_errors():
            tool = tool_update(tool=tool, changes=dict(serializer.validated_data), actor=Actor.from_request(request),
                               tenant=request_principal(request).tenant)
        return Response(ToolSerializer(tool).data)
