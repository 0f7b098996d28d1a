from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, list_filters
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal
from agentops.tenancy.selectors import member_get_by_username, tenant_group_get

from .errors import AgentInvalid
from .selectors import agent_access_get, agent_list
from .serializers import AgentAccessSerializer, AgentSerializer, AgentVersionChangeSerializer
from .services import agent_access_set, agent_version_create

WRITE = ("manage_agents", "agents:write")


def _agent_or_404(request, slug: str):
    agent = agent_list(tenant=request_principal(request).tenant).filter(slug=slug).first()
    if agent is None:
        raise ApiError("not_found", f"No agent {slug} in this tenant.", status_code=status.HTTP_404_NOT_FOUND)
    return agent


def _invalid(error: AgentInvalid) -> ApiError:
    return ApiError(error.code, error.message, details=error.details)


@extend_schema(tags=["agents"])
class AgentListApi(generics.ListAPIView):
    """Agents of the caller's tenant, each with its current version."""

    serializer_class = AgentSerializer

    def get_queryset(self):
        list_filters(self)
        return agent_list(tenant=request_principal(self.request).tenant)


@extend_schema(tags=["agents"])
class AgentDetailApi(APIView):
    """One agent. PATCH makes a new current version from the settings given (the others as they
    are); runs already started keep the version they pinned."""

    required_permissions = {"PATCH": WRITE}

    @extend_schema(responses={200: AgentSerializer, 404: ApiErrorSerializer})
    def get(self, request, slug: str):
        return Response(AgentSerializer(_agent_or_404(request, slug)).data)

    @extend_schema(request=AgentVersionChangeSerializer, responses={200: AgentSerializer, 404: ApiErrorSerializer})
    def patch(self, request, slug: str):
        agent = _agent_or_404(request, slug)
        serializer = AgentVersionChangeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        principal = request_principal(request)
        try:
            agent_version_create(agent=agent, config=dict(serializer.validated_data),
                                 actor=Actor.from_request(request), user=principal.user)
        except AgentInvalid as error:
            raise _invalid(error) from None
        return Response(AgentSerializer(agent).data)


@extend_schema(tags=["agents"])
class AgentAccessApi(APIView):
    """Who may start runs of the agent. PUT replaces the access: `restricted` with the members
    (`users`) and the tenant's groups (`groups`) given access."""

    required_permissions = {"PUT": WRITE}

    @extend_schema(responses={200: AgentAccessSerializer, 404: ApiErrorSerializer})
    def get(self, request, slug: str):
        return Response(agent_access_get(agent=_agent_or_404(request, slug)))

    @extend_schema(request=AgentAccessSerializer, responses={200: AgentAccessSerializer, 404: ApiErrorSerializer})
    def put(self, request, slug: str):
        agent = _agent_or_404(request, slug)
        serializer = AgentAccessSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant = request_principal(request).tenant
        users = _named(data["users"], lambda name: member_get_by_username(tenant=tenant, username=name), "users",
                       "No member {} in this tenant.")
        groups = _named(data["groups"], lambda name: tenant_group_get(tenant=tenant, name=name), "groups",
                        "No group {} in this tenant.")
        try:
            access = agent_access_set(agent=agent, restricted=data["restricted"], users=users, groups=groups,
                                      actor=Actor.from_request(request))
        except AgentInvalid as error:
            raise _invalid(error) from None
        return Response(access)


def _named(names: list[str], find, field: str, missing: str) -> list:
    found = {name: find(name) for name in dict.fromkeys(names)}
    unknown = [missing.format(name) for name, row in found.items() if row is None]
    if unknown:
        raise ApiError("invalid", " ".join(unknown), details={field: unknown})
    return list(found.values())
