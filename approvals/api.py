"""/api/v1/approvals/: the inbox for programs. Decisions go through `approval_decide`, exactly as
on the inbox page, and must carry the `seen_hash` of the request they were made on."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, pagination, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, query_params
from agentops.tenancy.permissions import request_principal

from .pagination import InvalidCursor, page_get
from .selectors import DECIDE_PERMISSION, DECIDE_SCOPE, approval_get_for_user, approval_list_for_user
from .serializers import (
    ApprovalApproveInputSerializer,
    ApprovalBulkInputSerializer,
    ApprovalBulkOutputSerializer,
    ApprovalListFilterSerializer,
    ApprovalPageParamsSerializer,
    ApprovalRejectInputSerializer,
    ApprovalRequestSerializer,
)
from .services import ApprovalError, approval_decide, approval_decide_bulk

ERROR_STATUS = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "not_allowed": status.HTTP_403_FORBIDDEN,
    "self_approval": status.HTTP_403_FORBIDDEN,
    "stale": status.HTTP_409_CONFLICT,
    "already_decided": status.HTTP_409_CONFLICT,
    "not_pending": status.HTTP_409_CONFLICT,
    "budget_exceeded": status.HTTP_409_CONFLICT,
    "comment_required": status.HTTP_400_BAD_REQUEST,
    "comment_too_long": status.HTTP_400_BAD_REQUEST,
    "invalid_arguments": status.HTTP_400_BAD_REQUEST,
    "not_identical": status.HTTP_400_BAD_REQUEST,
    "too_many": status.HTTP_400_BAD_REQUEST,
    "nothing_selected": status.HTTP_400_BAD_REQUEST,
}

DECISION_ERRORS = {
    400: OpenApiResponse(ApiErrorSerializer, description="invalid, comment_required, comment_too_long, invalid_arguments"),
    403: OpenApiResponse(ApiErrorSerializer, description="not_allowed (role, scope or group), self_approval"),
    404: OpenApiResponse(ApiErrorSerializer, description="not_found: no such request in your tenant"),
    409: OpenApiResponse(ApiErrorSerializer, description="stale (seen_hash outdated), already_decided, not_pending"),
}


class ApprovalCursorPagination(pagination.BasePagination):
    """Pages by keyset (approvals.pagination): `{"next", "previous", "results"}`, where `next` and
    `previous` are links carrying an opaque `cursor`, null at either end. No total: counting a
    long queue would cost what the page saves."""

    default_limit = 50

    def paginate_queryset(self, queryset, request, view=None):
        paging = ApprovalPageParamsSerializer(data=request.query_params)  # unknown ones: the view's filters
        paging.is_valid(raise_exception=True)
        params = paging.validated_data
        try:
            self.page = page_get(queryset, cursor=params.get("cursor"), size=params.get("limit", self.default_limit))
        except InvalidCursor as error:
            raise ApiError(error.code, error.message) from None
        self.url = request.build_absolute_uri()
        return self.page.items

    def get_paginated_response(self, data):
        return Response({"next": self._link(self.page.next), "previous": self._link(self.page.previous),
                         "results": data})

    def _link(self, cursor):
        return replace_query_param(self.url, "cursor", cursor) if cursor else None

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {"type": "object", "required": ["next", "previous", "results"],
                "properties": {"next": link, "previous": link, "results": schema}}

    def get_schema_operation_parameters(self, view):
        fields = ApprovalPageParamsSerializer().fields
        return [{"name": name, "required": False, "in": "query", "description": fields[name].help_text,
                 "schema": {"type": kind}} for name, kind in (("cursor", "string"), ("limit", "integer"))]


@extend_schema(tags=["approvals"], parameters=[ApprovalListFilterSerializer],
               responses={200: ApprovalRequestSerializer(many=True),
                          400: OpenApiResponse(ApiErrorSerializer, description="invalid, invalid_cursor")})
class ApprovalListApi(generics.ListAPIView):
    """Requests you may decide, oldest first; `?status=pending` for your queue. Pages by cursor."""

    serializer_class = ApprovalRequestSerializer
    pagination_class = ApprovalCursorPagination

    def get_queryset(self):
        filters = query_params(ApprovalListFilterSerializer, self.request, also=ApprovalPageParamsSerializer().fields)
        return approval_list_for_user(principal=request_principal(self.request), **filters)


@extend_schema(tags=["approvals"])
class ApprovalDetailApi(generics.RetrieveAPIView):
    serializer_class = ApprovalRequestSerializer

    def get_object(self):
        approval = approval_get_for_user(principal=request_principal(self.request), request_id=self.kwargs["pk"])
        if approval is None:
            raise ApiError("not_found", "No such approval request in this tenant.", status_code=404)
        return approval


class _DecisionApi(APIView):
    verdict = ""
    input_serializer = None
    required_permissions = {"POST": (DECIDE_PERMISSION, DECIDE_SCOPE)}

    def permission_denied(self, request, message=None, code=None):
        # The same code the service uses, whether the role or the key's scope is missing.
        if request_principal(request) is not None:
            raise ApiError("not_allowed", f"Deciding approvals needs the role permission {DECIDE_PERMISSION!r} "
                                          f"and, for an API key, the scope {DECIDE_SCOPE!r}.", status_code=403)
        super().permission_denied(request, message=message, code=code)

    def post(self, request, pk: int):
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        principal = request_principal(request)
        try:
            approval_decide(request_id=pk, user=principal.user, principal=principal, verdict=self.verdict,
                            **data.validated_data)
        except ApprovalError as error:
            raise _api_error(error) from None
        approval = approval_get_for_user(principal=principal, request_id=pk)
        return Response(ApprovalRequestSerializer(approval).data)


def _api_error(error: ApprovalError) -> ApiError:
    return ApiError(error.code, error.message, status_code=ERROR_STATUS.get(error.code, 400),
                    details=error.details or None)


@extend_schema(tags=["approvals"], request=ApprovalApproveInputSerializer,
               responses={200: ApprovalRequestSerializer, **DECISION_ERRORS},
               description="Approve, optionally with edited `arguments`. Under a quorum the request stays "
                           "pending until enough approvers agreed on the same arguments; an edit becomes what "
                           "the others are asked about. Needs `decide_approvals` and the scope `approvals:write`.")
class ApprovalApproveApi(_DecisionApi):
    verdict = "approve"
    input_serializer = ApprovalApproveInputSerializer


@extend_schema(tags=["approvals"], request=ApprovalRejectInputSerializer,
               responses={200: ApprovalRequestSerializer, **DECISION_ERRORS},
               description="Reject with a comment; the run resumes and the agent is told why. "
                           "Needs `decide_approvals` and the scope `approvals:write`.")
class ApprovalRejectApi(_DecisionApi):
    verdict = "reject"
    input_serializer = ApprovalRejectInputSerializer


@extend_schema(tags=["approvals"], request=ApprovalBulkInputSerializer,
               responses={200: ApprovalBulkOutputSerializer,
                          400: OpenApiResponse(ApiErrorSerializer, description="invalid, comment_required, "
                                               "not_identical (nothing was decided), too_many"),
                          403: DECISION_ERRORS[403]},
               description="One verdict and comment on several identical requests (same tool, arguments and "
                           "policy). Each request is decided on its own, with its own `seen_hash` check and "
                           "audit event: `results` says, per request, its status or why it was not decided "
                           "(stale, already_decided, not_found, self_approval ...).")
class ApprovalBulkApi(_DecisionApi):
    def post(self, request):
        data = ApprovalBulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        principal = request_principal(request)
        decisions = [(item["id"], item["seen_hash"]) for item in data.validated_data["requests"]]
        try:
            results = approval_decide_bulk(decisions=decisions, user=principal.user, principal=principal,
                                           verdict=data.validated_data["verdict"],
                                           comment=data.validated_data["comment"])
        except ApprovalError as error:
            raise _api_error(error) from None
        return Response(ApprovalBulkOutputSerializer({"results": results}).data)
