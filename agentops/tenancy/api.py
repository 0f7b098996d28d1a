"""/api/v1/members/: the members of the caller's tenant with their roles and attributes (what
tool rules read as `user.attributes`). Owners, who manage members, read them with an API key's
`read` scope and change attributes with `members:write`; roles change in the admin."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, list_filters
from agentops.audit.services import Actor

from .permissions import request_principal
from .selectors import membership_list_for_tenant
from .serializers import MemberAttributesSerializer, MemberSerializer
from .services import membership_set

READ = ("manage_members", "read")
WRITE = ("manage_members", "members:write")


def _member_or_404(request, username: str):
    membership = membership_list_for_tenant(tenant=request_principal(request).tenant).filter(
        user__username=username).first()
    if membership is None:
        raise ApiError("not_found", f"No member {username} in this tenant.", status_code=status.HTTP_404_NOT_FOUND)
    return membership


@extend_schema(tags=["members"])
class MemberListApi(generics.ListAPIView):
    """The tenant's members, by username."""

    serializer_class = MemberSerializer
    required_permissions = {"GET": READ}

    def get_queryset(self):
        list_filters(self)
        return membership_list_for_tenant(tenant=request_principal(self.request).tenant)


@extend_schema(tags=["members"])
class MemberDetailApi(APIView):
    """One member. PATCH replaces their attributes (audited as membership.attributes_changed)."""

    required_permissions = {"GET": READ, "PATCH": WRITE}

    @extend_schema(responses={200: MemberSerializer, 404: ApiErrorSerializer})
    def get(self, request, username: str):
        return Response(MemberSerializer(_member_or_404(request, username)).data)

    @extend_schema(request=MemberAttributesSerializer, responses={200: MemberSerializer, 404: ApiErrorSerializer})
    def patch(self, request, username: str):
        membership = _member_or_404(request, username)
        serializer = MemberAttributesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_set(tenant=membership.tenant, user=membership.user, role=membership.role,
                                    attributes=serializer.validated_data["attributes"],
                                    actor=Actor.from_request(request))
        return Response(MemberSerializer(membership).data)
