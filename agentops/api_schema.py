"""The OpenAPI description of the v1 API: what each operation answers when it refuses.

drf-spectacular documents the success answers; `ApiSchema` adds the error envelope
(agentops.api.ApiErrorSerializer) under every status the operation can give, so that the schema
lists every answer a client may get (the suite checks it with schemathesis). An endpoint declares
its own domain errors (409, and 400/403/404 descriptions naming their codes) with `extend_schema`;
those are kept. Request bodies read by a strict serializer (agentops.api.StrictInputMixin) admit
no other properties.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework.permissions import AllowAny

from .api import ApiErrorSerializer, StrictInputMixin

DESCRIPTIONS = {
    "400": "invalid (see details), unknown_field, unknown_parameter, invalid_json, too_deep",
    "401": "not_authenticated, authentication_failed: no valid API key or session",
    "403": "permission_denied: the role or the key's scopes do not allow it",
    "404": "not_found: nothing by that id in your tenant",
    "406": "not_acceptable: the Accept header admits no JSON",
    "411": "length_required: a body sent without Content-Length (chunked)",
    "413": "payload_too_large: the body is over the size limit",
    "415": "unsupported_media_type: send application/json",
    "429": "throttled: too many requests; retry after the Retry-After header",
}


class ApiSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        envelope = {"application/json": {"schema": self.resolve_serializer(ApiErrorSerializer, "response").ref}}
        for code in self.error_statuses(operation):
            operation["responses"].setdefault(code, {"description": DESCRIPTIONS[code], "content": envelope})
        return operation

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), StrictInputMixin):
            schema["additionalProperties"] = False  # an unknown field is a 400 `unknown_field`
        return schema

    def error_statuses(self, operation) -> list[str]:
        """The statuses this operation can answer with an error, whatever the endpoint does."""
        statuses = ["400"]  # every /api/ request: a NUL in its path or query, a bad parameter
        if self.view.get_authenticators():
            statuses.append("401")
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            statuses.append("403")
        if "{" in self.path:
            statuses.append("404")
        statuses.append("406")
        if "requestBody" in operation:
            statuses += ["411", "413", "415"]
        if self.view.get_throttles():
            statuses.append("429")
        return statuses
