"""/api/v1/evals/: suites and their cases, eval runs, their results and their comparison with the
baseline. Reads need `view` (key scope `read`); writes `run_agents` and the key scope `evals:write`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentops.api import (
    CURSOR_PARAMS, ApiError, ApiErrorSerializer, CursorParamsSerializer, NoFiltersSerializer, cursor_page,
    query_params,
)
from agentops.audit.services import Actor
from agentops.tenancy.permissions import request_principal

from .errors import EvalError
from .selectors import (
    eval_run_find, eval_case_list, eval_result_list, eval_run_get_for_user, eval_run_list_for_user, eval_suite_get, eval_suite_list,
)
from .serializers import (
    EvalCasesAddSerializer, EvalCaseSerializer, EvalComparisonParamsSerializer, EvalComparisonSerializer,
    EvalRunCreateSerializer, EvalRunDetailSerializer, EvalRunListFilterSerializer,
    EvalRunPageSerializer, EvalRunSerializer, EvalSuiteCreateSerializer, EvalSuiteDetailSerializer, EvalSuitePageSerializer,
    EvalSuiteSerializer,
)
from .services import compare_eval_runs, eval_cases_add, eval_suite_create, run_eval

WRITE = ("run_agents", "evals:write")
NOT_FOUND = OpenApiResponse(ApiErrorSerializer, description="not_found: no such suite or eval run in this tenant")
ERROR_STATUS = {"suite_exists": status.HTTP_409_CONFLICT, "empty_suite": status.HTTP_409_CONFLICT,
                "not_finished": status.HTTP_409_CONFLICT, "no_baseline": status.HTTP_404_NOT_FOUND,
                "not_found": status.HTTP_404_NOT_FOUND}


def api_error(error: EvalError) -> ApiError:
    return ApiError(error.code, error.message, details=error.details,
                    status_code=ERROR_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST))


def suite_or_404(request, suite_id):
    suite = eval_suite_get(principal=request_principal(request), suite_id=suite_id)
    if suite is None:
        raise ApiError("not_found", f"no suite {suite_id} in this tenant", status_code=status.HTTP_404_NOT_FOUND)
    return suite


def eval_run_or_404(request, eval_run_id):
    eval_run = eval_run_get_for_user(principal=request_principal(request), eval_run_id=eval_run_id)
    if eval_run is None:
        raise ApiError("not_found", f"no eval run {eval_run_id} in this tenant",
                       status_code=status.HTTP_404_NOT_FOUND)
    return eval_run


def suite_with_cases(suite) -> dict:
    suite.cases_in_order = eval_case_list(suite=suite)
    return EvalSuiteDetailSerializer(suite).data


@extend_schema(tags=["evals"])
class EvalSuiteListApi(APIView):
    """The tenant's eval suites by name, a page at a time by cursor; or create one (with cases)."""

    required_permissions = {"POST": WRITE}

    @extend_schema(operation_id="v1_evals_suites_list", parameters=[CursorParamsSerializer],
                   responses={200: EvalSuitePageSerializer,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid_cursor, invalid")})
    def get(self, request):
        query_params(NoFiltersSerializer, request, also=CURSOR_PARAMS)
        page, links = cursor_page(eval_suite_list(principal=request_principal(request)), request)
        return Response({**links, "results": EvalSuiteSerializer(page.items, many=True).data})

    @extend_schema(
        request=EvalSuiteCreateSerializer,
        responses={201: EvalSuiteDetailSerializer,
                   400: OpenApiResponse(ApiErrorSerializer, description="invalid (see details: an unknown agent, "
                                        "a case without message or input), unknown_field, unknown_assertion, "
                                        "invalid_assertion"),
                   409: OpenApiResponse(ApiErrorSerializer, description="suite_exists: the name is taken")},
        examples=[OpenApiExample("A suite with a case", request_only=True, value={
            "name": "support-basics", "agent": "support",
            "cases": [{"name": "refund policy", "message": "What is your refund policy?",
                       "assertions": [{"type": "icontains", "value": "30 days"}]}]})],
    )
    def post(self, request):
        principal = request_principal(request)
        serializer = EvalSuiteCreateSerializer(data=request.data, context={"tenant": principal.tenant})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        cases = data.pop("cases", [])
        try:
            suite = eval_suite_create(tenant=principal.tenant, actor=Actor.from_request(request), cases=cases, **data)
        except EvalError as error:
            raise api_error(error) from error
        return Response(suite_with_cases(suite), status=status.HTTP_201_CREATED)


@extend_schema(tags=["evals"])
class EvalSuiteDetailApi(APIView):
    @extend_schema(responses={200: EvalSuiteDetailSerializer, 404: NOT_FOUND})
    def get(self, request, suite_id: int):
        query_params(NoFiltersSerializer, request)
        return Response(suite_with_cases(suite_or_404(request, suite_id)))


@extend_schema(tags=["evals"])
class EvalCasesApi(APIView):
    """Add cases to a suite, after its last one, in the order given."""

    required_permissions = {"POST": WRITE}

    @extend_schema(request=EvalCasesAddSerializer,
                   responses={201: EvalCaseSerializer(many=True), 404: NOT_FOUND,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid, unknown_field, "
                                                   "unknown_assertion, invalid_assertion")})
    def post(self, request, suite_id: int):
        suite = suite_or_404(request, suite_id)
        serializer = EvalCasesAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            cases = eval_cases_add(suite=suite, cases=serializer.validated_data["cases"],
                                   actor=Actor.from_request(request))
        except EvalError as error:
            raise api_error(error) from error
        return Response(EvalCaseSerializer(cases, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["evals"])
class EvalRunListApi(APIView):
    """The tenant's eval runs newest first (`?suite=` for one suite's), a page at a time by cursor;
    or start one: queued, then executed by the workers case by case."""

    required_permissions = {"POST": WRITE}

    @extend_schema(operation_id="v1_evals_runs_list", parameters=[EvalRunListFilterSerializer, CursorParamsSerializer],
                   responses={200: EvalRunPageSerializer, 404: NOT_FOUND,
                              400: OpenApiResponse(ApiErrorSerializer, description="invalid, invalid_cursor, "
                                                                                   "unknown_parameter")})
    def get(self, request):
        filters = query_params(EvalRunListFilterSerializer, request, also=CURSOR_PARAMS)
        suite = suite_or_404(request, filters["suite"]) if "suite" in filters else None
        runs = eval_run_list_for_user(principal=request_principal(request), suite=suite)
        page, links = cursor_page(runs, request)
        return Response({**links, "results": EvalRunSerializer(page.items, many=True).data})

    @extend_schema(
        request=EvalRunCreateSerializer,
        responses={201: EvalRunSerializer, 404: NOT_FOUND,
                   400: OpenApiResponse(ApiErrorSerializer, description="invalid, unknown_field, unknown_version "
                                        "(no such version of the suite's agent), unknown_baseline, invalid_repeat"),
                   409: OpenApiResponse(ApiErrorSerializer, description="empty_suite: the suite has no cases")},
        examples=[OpenApiExample("Version 2 against the last eval run", request_only=True,
                                 value={"suite": 1, "agent_version": 2, "repeat": 3, "baseline": "latest"})],
    )
    def post(self, request):
        serializer = EvalRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        suite = suite_or_404(request, data["suite"])
        try:
            eval_run = run_eval(principal=request_principal(request), suite=suite, version=data.get("agent_version"),
                                repeat=data["repeat"], baseline=data.get("baseline"), label=data["label"])
        except EvalError as error:
            raise api_error(error) from error
        return Response(EvalRunSerializer(eval_run).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["evals"])
class EvalRunDetailApi(APIView):
    """An eval run with its summary and a page of its results (case by case, repeat by repeat)."""

    @extend_schema(parameters=[CursorParamsSerializer], responses={200: EvalRunDetailSerializer, 404: NOT_FOUND})
    def get(self, request, eval_run_id: int):
        query_params(NoFiltersSerializer, request, also=CURSOR_PARAMS)
        eval_run = eval_run_or_404(request, eval_run_id)
        page, links = cursor_page(eval_result_list(eval_run=eval_run), request)
        eval_run.results_page = page.items
        return Response({**EvalRunDetailSerializer(eval_run).data, **links})


@extend_schema(tags=["evals"])
class EvalRunComparisonApi(APIView):
    """The eval run against its baseline (or `?baseline=`), case by case."""

    @extend_schema(parameters=[EvalComparisonParamsSerializer],
                   responses={200: EvalComparisonSerializer,
                              404: OpenApiResponse(ApiErrorSerializer, description="not_found, no_baseline: the "
                                                   "eval run has none and `?baseline=` names none"),
                              409: OpenApiResponse(ApiErrorSerializer, description="not_finished: both eval runs "
                                                   "must have finished")})
    def get(self, request, eval_run_id: int):
        reference = query_params(EvalComparisonParamsSerializer, request).get("baseline")
        eval_run = eval_run_or_404(request, eval_run_id)
        baseline = eval_run.baseline
        if reference:
            baseline = eval_run_find(tenant=eval_run.tenant, suite=eval_run.suite, reference=reference)
        try:
            if baseline is None:
                raise EvalError("no_baseline", f"Eval run {eval_run.pk} has no baseline to compare with"
                                               + (f" called {reference!r}." if reference else "."))
            return Response(compare_eval_runs(baseline, eval_run))
        except EvalError as error:
            raise api_error(error) from error
