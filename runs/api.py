from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import CURSOR_PARAMS, MAX_QUERY_INT, ApiError, ApiErrorSerializer, CursorParamsSerializer, cursor_page, query_params
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .budgets import budgets_summary
from .events import StreamState, event_snapshot, event_stream
from .journal_view import prompt_for_step
from .retention import run_hold_set
from .models import Run
from .selectors import run_get_for_user, run_list, step_list
from .serializers import (
    BudgetsSerializer,
    BudgetsUpdateSerializer,
    RunCreateSerializer,
    RunEventsParamsSerializer,
    RunListFilterSerializer,
    RunPageSerializer,
    RunSerializer,
    RunStepsSerializer,
    StepPageParamsSerializer,
    StepPromptSerializer,
    steps_data,
)
from .errors import RunError
from .services import budgets_set, run_cancel, run_create

ERROR_STATUS = {
    "unknown_agent": status.HTTP_400_BAD_REQUEST,
    "unknown_version": status.HTTP_400_BAD_REQUEST,
    "invalid_on_behalf_of": status.HTTP_400_BAD_REQUEST,
    "agent_restricted": status.HTTP_403_FORBIDDEN,
    "idempotency_conflict": status.HTTP_409_CONFLICT,
    "agent_version_drained": status.HTTP_409_CONFLICT,
    "not_cancellable": status.HTTP_409_CONFLICT,
    "thread_busy": status.HTTP_409_CONFLICT,
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


EVENT_STREAM = "text/event-stream"
# One event of the stream, as its fields (`data` is one line of JSON; docs/streaming.md).
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["status", "step", "approval", "delta", "end"]},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The step's seq (step and end events)."},
        "data": {"type": "string", "description": "JSON: the status, step, approval, delta or run."},
        "retry": {"type": "integer", "description": "Milliseconds to wait before reconnecting."},
    },
}
EVENT_STREAM_RESPONSE = OpenApiResponse(EVENT_SCHEMA, description=(
    "Server-sent events: `status`, `step` (id: its seq), `approval`, `delta`, then `end` (id: the last seq); "
    "see docs/streaming.md."))


class EventStreamNegotiation(DefaultContentNegotiation):
    """A client that accepts only text/event-stream still gets the API's errors, in JSON: the
    stream itself is no DRF response to render. Any other unacceptable type stays a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if "text/event-stream" not in request.headers.get("Accept", ""):
                raise
            return renderers[0], renderers[0].media_type


def last_event_id(request, after: int) -> int:
    """Where the stream resumes: the Last-Event-ID header (an EventSource reconnecting), else `after`."""
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return after
    if not header.isascii() or not header.isdigit() or int(header) > MAX_QUERY_INT:
        message = "Last-Event-ID must be the seq of a step, a whole number."
        raise ApiError("invalid", message, details={"Last-Event-ID": [message]})
    return int(header)


def event_stream_response(request, run, *, after: int) -> StreamingHttpResponse:
    state = StreamState(principal=request_principal(request), run_id=str(run.pk), after=after)
    if isinstance(request._request, ASGIRequest):
        # The request's own thread, and the connection it opened, end as the stream starts
        # (agentops/asgi_handler.py); the stream reads through a shared pool of threads.
        content = event_stream(state)
    else:
        content = event_snapshot(state)
    response = StreamingHttpResponse(content, content_type=EVENT_STREAM)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@extend_schema(tags=["runs"])
class RunListCreateApi(APIView):
    """List the tenant's runs newest first, a page at a time by cursor (filter by `agent` slug and
    `version`, `status`, `thread`, words `q`), or start one."""

    required_permissions = {"GET": ("view", "read"), "POST": ("run_agents", "runs:write")}
    content_negotiation_class = EventStreamNegotiation

    @extend_schema(operation_id="v1_runs_list", parameters=[RunListFilterSerializer, CursorParamsSerializer],
                   responses={200: RunPageSerializer, 400: OpenApiResponse(
                       ApiErrorSerializer, description="invalid (an unknown filter value, see details), "
                                                       "invalid_cursor")})
    def get(self, request):
        runs = run_list(principal=request_principal(request), **query_params(RunListFilterSerializer, request,
                                                                              also=CURSOR_PARAMS))
        page, links = cursor_page(runs, request)
        return Response({**links, "results": RunSerializer(page.items, many=True).data})

    @extend_schema(
        request=RunCreateSerializer,
        responses={201: RunSerializer, (200, "application/json"): RunSerializer, (200, EVENT_STREAM): OpenApiResponse(
                       EVENT_SCHEMA, description="With `\"stream\": true`: the new run's event stream, its id "
                                                 "in the Location header and the first `status` event."),
                   400: OpenApiResponse(ApiErrorSerializer, description="invalid (see details; `on_behalf_of` "
                                        "names no member of the tenant), unknown_field, unknown_agent, "
                                        "unknown_version, invalid_json"),
                   403: OpenApiResponse(ApiErrorSerializer, description="permission_denied (the caller's role "
                                        "does not run agents), agent_restricted (the agent is restricted to "
                                        "other users and groups)"),
                   409: OpenApiResponse(ApiErrorSerializer, description="idempotency_conflict: the key was used "
                                        "for a different request; thread_busy: the thread's policy is `reject` "
                                        "and another of its runs is in progress; agent_version_drained: the "
                                        "`version` asked for is drained (see docs/costs.md)")},
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
                idempotency_key=idempotency_key(request), version=data.get("version"),
            )
        except RunError as error:
            raise api_error(error) from error
        if data["stream"]:
            response = event_stream_response(request, run, after=0)
            response["Location"] = reverse("api-run-detail", args=[run.pk])
            return response
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(tags=["runs"])
class RunDetailApi(APIView):
    @extend_schema(responses=RunSerializer)
    def get(self, request, run_id):
        return Response(RunSerializer(get_run_or_404(request, run_id)).data)


@extend_schema(tags=["runs"])
class RunEventsApi(APIView):
    """The run as server-sent events, live until it ends: status, steps, approvals, the model's
    text (docs/streaming.md). Resume with the header `Last-Event-ID` (or `after`)."""

    content_negotiation_class = EventStreamNegotiation

    @extend_schema(operation_id="v1_runs_events", parameters=[
        RunEventsParamsSerializer,
        OpenApiParameter("Last-Event-ID", {"type": "string", "pattern": "^[0-9]+$"}, OpenApiParameter.HEADER,
                         description="Resume after this step seq (sent by EventSource on reconnecting).")],
        responses={(200, EVENT_STREAM): EVENT_STREAM_RESPONSE,
                   400: OpenApiResponse(ApiErrorSerializer, description="invalid: a bad `after` or Last-Event-ID"),
                   404: OpenApiResponse(ApiErrorSerializer, description="not_found: no such run here")})
    def get(self, request, run_id):
        run = get_run_or_404(request, run_id)
        after = last_event_id(request, query_params(RunEventsParamsSerializer, request)["after"])
        return event_stream_response(request, run, after=after)


STEP_CHUNK = 100  # steps read per query while a page fills


def steps_within_budget(*, run, after: int, limit: int, max_bytes: int) -> tuple[list, int | None]:
    """The serialized steps after seq `after`, in order, until `limit` steps or `max_bytes` of JSON
    (a first step larger than that comes alone), and the seq to continue after (None at the
    journal's end). The journal is read in chunks, so a page of large steps loads little more
    than it returns: a fixed number of queries per chunk, whatever the run's length."""
    page, size, cursor, renderer = [], 0, after, JSONRenderer()
    while True:
        wanted = min(STEP_CHUNK, limit - len(page) + 1)  # one more than fits tells whether more follow
        chunk = step_list(run=run, after_seq=cursor, limit=wanted)
        for step, data in zip(chunk, steps_data(chunk)):
            if len(page) == limit:
                return page, cursor
            step_size = len(renderer.render(data)) + 1  # and its comma
            if page and size + step_size > max_bytes:
                return page, cursor
            page.append(data)
            size, cursor = size + step_size, step.seq
        if len(chunk) < wanted:
            return page, None


@extend_schema(tags=["runs"])
class RunStepsApi(APIView):
    """The run's journal in order, a page at a time: keyset by seq (`after`), at most `limit` steps
    and about `max_bytes` of JSON. Follow `next` until it is null."""

    @extend_schema(responses={200: RunStepsSerializer,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid paging parameters"),
                              404: OpenApiResponse(ApiErrorSerializer, description="not_found: no such run here")},
                   parameters=[StepPageParamsSerializer])
    def get(self, request, run_id):
        run = get_run_or_404(request, run_id)
        params = query_params(StepPageParamsSerializer, request)
        budget = min(params.get("max_bytes") or settings.STEPS_PAGE_MAX_BYTES, settings.STEPS_PAGE_MAX_BYTES)
        steps, next_after = steps_within_budget(run=run, after=params["after"], limit=params["limit"],
                                                max_bytes=budget)
        return Response({"run": str(run.pk), "status": run.status, "steps": steps, "next": next_after})


@extend_schema(tags=["runs"])
class StepPromptApi(APIView):
    """The full prompt of one model step: every message it was sent, rebuilt from the journal."""

    @extend_schema(responses={200: StepPromptSerializer,
                              404: OpenApiResponse(ApiErrorSerializer,
                                                   description="not_found: no such run here, or that step is not "
                                                               "a model call")})
    def get(self, request, run_id, seq):
        run = get_run_or_404(request, run_id)
        prompt = prompt_for_step(run=run, seq=seq)
        if prompt is None:
            raise ApiError("not_found", f"step {seq} of run {run.pk} is not a model call",
                           status_code=status.HTTP_404_NOT_FOUND)
        return Response({"run": str(run.pk), "seq": seq, "prompt": [m.message for m in prompt],
                         "added": sum(m.added for m in prompt)})


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


HOLD = ("hold_runs", "runs:hold")
BUDGETS_READ = ("manage_budgets", "read")
BUDGETS_WRITE = ("manage_budgets", "budgets:write")
# The API's names of the budget fields, and the columns they set.
BUDGET_FIELDS = {"daily_limit": "daily_cost_limit", "monthly_limit": "monthly_cost_limit", "policy": "budget_policy"}


class BudgetsApi(APIView):
    """The tenant's cost budgets (owners): daily and monthly, the tenant's and each agent's, with
    what they have spent; the policy at 100% (fail or pause). PUT changes the fields it names."""

    required_permissions = {"GET": BUDGETS_READ, "PUT": BUDGETS_WRITE}

    @extend_schema(tags=["budgets"], responses={200: BudgetsSerializer})
    def get(self, request):
        return Response(BudgetsSerializer(budgets_summary(tenant=request_principal(request).tenant)).data)

    @extend_schema(tags=["budgets"], request=BudgetsUpdateSerializer, responses={
        200: BudgetsSerializer, 400: OpenApiResponse(ApiErrorSerializer, description="invalid, unknown_agent")})
    def put(self, request):
        serializer = BudgetsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, tenant = serializer.validated_data, request_principal(request).tenant
        agents = [{BUDGET_FIELDS.get(name, name): value for name, value in item.items()}
                  for item in data.get("agents", [])]
        try:
            budgets_set(tenant=tenant, actor=Actor.from_request(request), agents=agents,
                        **{BUDGET_FIELDS[name]: value for name, value in data.items() if name != "agents"})
        except RunError as error:
            raise api_error(error) from error
        tenant.refresh_from_db()
        return Response(BudgetsSerializer(budgets_summary(tenant=tenant)).data)


class RunHoldApi(APIView):
    """A legal hold on the run (owners): retention keeps it whole while it holds. POST sets it,
    DELETE clears it; both audited."""

    required_permissions = {"POST": HOLD, "DELETE": HOLD}

    @extend_schema(tags=["runs"], request=None, responses={200: RunSerializer, 404: ApiErrorSerializer})
    def post(self, request, run_id):
        return self._hold(request, run_id, held=True)

    @extend_schema(tags=["runs"], request=None, responses={200: RunSerializer, 404: ApiErrorSerializer})
    def delete(self, request, run_id):
        return self._hold(request, run_id, held=False)

    def _hold(self, request, run_id, *, held: bool):
        run = run_hold_set(run=get_run_or_404(request, run_id), held=held, actor=Actor.from_request(request))
        return Response(RunSerializer(run).data)
