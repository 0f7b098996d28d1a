from drf_spectacular.utils import extend_schema
from rest_framework import generics

from agentops.api import list_filters
from agentops.tenancy.permissions import request_principal

from .selectors import agent_list
from .serializers import AgentSerializer


@extend_schema(tags=["agents"])
class AgentListApi(generics.ListAPIView):
    """Agents of the caller's tenant, each with its current version."""

    serializer_class = AgentSerializer

    def get_queryset(self):
        list_filters(self)
        return agent_list(tenant=request_principal(self.request).tenant)


@extend_schema(tags=["agents"])
class AgentDetailApi(generics.RetrieveAPIView):
    serializer_class = AgentSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return agent_list(tenant=request_principal(self.request).tenant)
