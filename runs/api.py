from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import ApiError
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .journal_view import blobs_for, prompts_for_steps
from .models import RunStatus, StepKind
from .selectors import run_get_for_user, run_list, step_list
from .serializers import RunCreateSerializer, RunSerializer, StepSerializer
from .errors import RunError
from .services import run_cancel, run_create

ERROR_STATUS = {
    "unknown_agent": status.HTTP_400_BAD_REQUEST,
    "invalid_on_behalf_of": status.HTTP_400_BAD_REQUEST,
    "idempotency_conflict": status.HTTP_409_CONFLICT,
    "not_cancellable": status.HTTP_409_CONFLICT,
}


def api_error(error: RunError) -> ApiError:
    return ApiError(error.code, error.message, status_code=ERROR_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST))


def get_run_or_404(request, run_id):
    run = run_get_for_user(principal=request_principal(request), run_id=run_id)
    if run is None:
        raise ApiError("not_found", f"no run {run_id} in this tenant", status_code=status.HTTP_404_NOT_FOUND)
    return run


@extend_schema(tags=["runs"])
class RunListCreateApi(generics.ListAPIView):
    """List the tenant's runs (filter by `agent` slug and `status`), or start one."""

    serializer_class = RunSerializer
    required_permissions = {"GET": ("view", "read"), "POST": ("run_agents", "runs:write")}

    def get_queryset(self):
        wanted = self.request.query_params.get("status")
        if wanted and wanted not in RunStatus.values:
            raise ApiError("invalid", f"status must be one of {', '.join(RunStatus.values)}")
        return run_list(principal=request_principal(self.request),
                        agent=self.request.query_params.get("agent") or None, status=wanted or None)

    @extend_schema(
        request=RunCreateSerializer, responses={201: RunSerializer, 200: RunSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Repeat a request safely: the same key returns the same run.")],
    )
    def post(self, request):
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run, created = run_create(
                principal=request_principal(request), agent_slug=data["agent"], input=data["input"],
                on_behalf_of=data.get("on_behalf_of"), thread=data["thread"], metadata=data["metadata"],
                idempotency_key=request.headers.get("Idempotency-Key") or None,
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

    @extend_schema(
        responses=StepSerializer(many=True),
        parameters=[OpenApiParameter("after", int, description="Only steps with a greater seq."),
                    OpenApiParameter("limit", int, description="At most this many (default 200, max 1000).")],
    )
    def get(self, request, run_id):
        run = get_run_or_404(request, run_id)
        try:
            after = int(request.query_params.get("after", 0))
            limit = min(int(request.query_params.get("limit", 200)), 1000)
        except ValueError:
            raise ApiError("invalid", "after and limit must be integers") from None
        steps = step_list(run=run, after_seq=after, limit=limit)
        prompts = prompts_for_steps(run=run, seqs=[s.seq for s in steps if s.kind == StepKind.LLM])
        blobs = blobs_for([value for step in steps for value in (step.input, step.output)])
        context = {"prompts": prompts, "blobs": blobs}
        return Response({"run": str(run.pk), "status": run.status,
                         "steps": StepSerializer(steps, many=True, context=context).data})


@extend_schema(tags=["runs"])
class RunCancelApi(APIView):
    required_permissions = {"POST": ("run_agents", "runs:write")}

    @extend_schema(request=None, responses=RunSerializer)
    def post(self, request, run_id):
        run = get_run_or_404(request, run_id)
        try:
            run = run_cancel(run=run, actor=Actor.from_request(request))
        except RunError as error:
            raise api_error(error) from error
        return Response(RunSerializer(run).data)
