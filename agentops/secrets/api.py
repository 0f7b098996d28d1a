"""/api/v1/secrets/: a tenant's secrets, write-only. Listing shows names and last characters; no
response ever carries a value. Managing them takes the `manage_tools` permission (owners and
developers), with an API key's `read` or `tools:write` scope."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, list_filters
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .errors import SecretInvalid
from .selectors import secret_get, secret_list
from .serializers import SecretSerializer, SecretValueSerializer
from .services import secret_delete, secret_set

READ = ("manage_tools", "read")
WRITE = ("manage_tools", "tools:write")


def _not_found(name: str) -> ApiError:
    return ApiError("not_found", f"No secret named {name}.", status_code=status.HTTP_404_NOT_FOUND)


@extend_schema(tags=["secrets"])
class SecretListApi(generics.ListAPIView):
    """The caller's tenant's secrets, by name."""

    serializer_class = SecretSerializer
    required_permissions = {"GET": READ}

    def get_queryset(self):
        list_filters(self)
        return secret_list(tenant=request_principal(self.request).tenant)


@extend_schema(tags=["secrets"])
class SecretDetailApi(APIView):
    """One secret by name. PUT creates or replaces its value; the value is never returned."""

    required_permissions = {"GET": READ, "PUT": WRITE, "DELETE": WRITE}

    @extend_schema(responses={200: SecretSerializer, 404: ApiErrorSerializer})
    def get(self, request, name: str):
        secret = secret_get(tenant=request_principal(request).tenant, name=name)
        if secret is None:
            raise _not_found(name)
        return Response(SecretSerializer(secret).data)

    @extend_schema(request=SecretValueSerializer,
                   responses={200: SecretSerializer, 201: SecretSerializer, 400: ApiErrorSerializer})
    def put(self, request, name: str):
        serializer = SecretValueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = request_principal(request)
        try:
            secret, created = secret_set(tenant=principal.tenant, name=name,
                                         value=serializer.validated_data["value"],
                                         actor=Actor.from_request(request), user=principal.user)
        except SecretInvalid as exc:
            raise ApiError(exc.code, exc.message) from None
        return Response(SecretSerializer(secret).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted."), 404: ApiErrorSerializer})
    def delete(self, request, name: str):
        if not secret_delete(tenant=request_principal(request).tenant, name=name, actor=Actor.from_request(request)):
            raise _not_found(name)
        return Response(status=status.HTTP_204_NO_CONTENT)
