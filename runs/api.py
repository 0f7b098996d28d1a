from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError, ApiErrorSerializer, list_filters, query_params
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .journal_view import blobs_for, prompts_for_steps
from .models import Run, StepKind
from .selectors import run_get_for_user, run_list, step_list
from .serializers import (
    RunCreateSerializer,
    RunListFilterSerializer,
    RunSerializer,
    RunStepsSerializer,
    StepPageParamsSerializer,
    StepSerializer,
)
from .errors import RunError
from .services import run_cancel, run_create

ERROR_STATUS = {
    "unknown_agent": status.HTTP_400_BAD_REQUEST,
    "invalid_on_behalf_of": status.HTTP_400_BAD_REQUEST,
    "idempotency_conflict": status.HTTP_409_CONFLICT,
    "not_cancellable": status.HTTP_409_CONFLICT,
}


IDEMPOTENCY_KEY_MAX = Run._meta.get_field("idempotency_key").max_length


def idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        message = f"Idempotency-Key may have at most {IDEMPOTENCY_KEY_MAX} characters."
        raise ApiError("invalid", message, details={"Idempotency-Key": [message]})
    return key


def api_error(error: RunError) -> ApiError:
    return ApiError(error.code, error.message, status_code=ERROR_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST))


def get_run_or_404(request, run_id):
    run = run_get_for_user(principal=request_principal(request), run_id=run_id)
    if run is None:
        raise ApiError("not_found", f"no run {run_id} in this tenant", status_code=status.HTTP_404_NOT_FOUND)
    return run


@extend_schema(tags=["runs"])
@extend_schema_view(get=extend_schema(parameters=[RunListFilterSerializer]))
class RunListCreateApi(generics.ListAPIView):
    """List the tenant's runs (filter by `agent` slug, `status` and `thread`), or start one."""

    serializer_class = RunSerializer
    required_permissions = {"GET": ("view", "read"), "POST": ("run_agents", "runs:write")}

    def get_queryset(self):
        return run_list(principal=request_principal(self.request),
                        **list_filters(self, RunListFilterSerializer))

    @extend_schema(
        request=RunCreateSerializer,
        responses={201: RunSerializer, 200: RunSerializer,
                   400: OpenApiResponse(ApiErrorSerializer, description="invalid (see details; `on_behalf_of` "
                                        "names no member of the tenant), unknown_field, unknown_agent, invalid_json"),
                   409: OpenApiResponse(ApiErrorSerializer, description="idempotency_conflict: the key was used "
                                                                        "for a different request")},
        parameters=[OpenApiParameter("Idempotency-Key", {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
                                     OpenApiParameter.HEADER,
                                     description="Repeat a request safely: the same key returns the same run.")],
        examples=[OpenApiExample("A message", request_only=True,
                                 value={"agent": "support", "message": "Where is my order #1042?"})],
    )
    def post(self, request):
        serializer = RunCreateSerializer(data=request.data, context={"tenant": request_principal(request).tenant})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run, created = run_create(
                principal=request_principal(request), agent_slug=data["agent"], input=data["input"],
                on_behalf_of=data.get("on_behalf_of"), thread=data["thread"], metadata=data["metadata"],
                idempotency_key=idempotency_key(request),
            )
        except RunError as error:
            raise api_error(error) from error
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(tags=["runs"])
class RunDetailApi(APIView):
    @extend_schema(responses=RunSerializer)
    def get(self, request, run_id):
        return Response(RunSerializer(get_run_or_404(request, run_id)).data)


@extend_schema(tags=["runs"])
class RunStepsApi(APIView):
    """The run's journal in order. Page with `after` (the last seq you have) and `limit`."""

    @extend_schema(responses=RunStepsSerializer, parameters=[StepPageParamsSerializer])
    def get(self, request, run_id):
        run = get_run_or_404(request, run_id)
        page = query_params(StepPageParamsSerializer, request)
        steps = step_list(run=run, after_seq=page["after"], limit=page["limit"])
        prompts = prompts_for_steps(run=run, seqs=[s.seq for s in steps if s.kind == StepKind.LLM])
        blobs = blobs_for([value for step in steps for value in (step.input, step.output)])
        context = {"prompts": prompts, "blobs": blobs}
        return Response({"run": str(run.pk), "status": run.status,
                         "steps": StepSerializer(steps, many=True, context=context).data})


@extend_schema(tags=["runs"])
class RunCancelApi(APIView):
    required_permissions = {"POST": ("run_agents", "runs:write")}

    @extend_schema(request=None, responses={
        200: RunSerializer,
        409: OpenApiResponse(ApiErrorSerializer, description="not_cancellable: the run has already ended")})
    def post(self, request, run_id):
        run = get_run_or_404(request, run_id)
        try:
            run = run_cancel(run=run, actor=Actor.from_request(request))
        except RunError as error:
            raise api_error(error) from error
        return Response(RunSerializer(run).data)
