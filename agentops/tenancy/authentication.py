from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .principal import Principal
from .selectors import membership_get
from .services import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`: authenticates as the key's user, in the key's tenant only."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header: use 'Bearer <api key>'."))
        api_key = api_key_authenticate(header[1])
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        membership = membership_get(user=api_key.user, tenant=api_key.tenant)
        if membership is None:
            raise exceptions.AuthenticationFailed(_("The API key's user is no longer a member of its tenant."))
        request._request.principal = Principal(
            tenant=api_key.tenant, user=api_key.user, membership=membership, api_key=api_key
        )
        return api_key.user, api_key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes API keys in the OpenAPI schema, so the docs' "Authorize" button accepts one."""

    target_class = ApiKeyAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of one tenant, sent as `Authorization: Bearer ak_...`; "
                           "create one with `manage.py create_api_key`.",
        }
