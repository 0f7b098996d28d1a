"""/api/v1/: each app contributes its endpoints here."""

from django.urls import path

from agentops.agents.api import AgentAccessApi, AgentDetailApi, AgentListApi
from agentops.memory.api import MemoryBulkApi, MemoryDetailApi, MemoryForgetApi, MemoryListCreateApi, MemorySearchApi
from agentops.secrets.api import SecretDetailApi, SecretListApi
from agentops.tenancy.api import MemberDetailApi, MemberListApi
from evals.api import (
    EvalCasesApi, EvalRunComparisonApi, EvalRunDetailApi, EvalRunListApi, EvalSuiteDetailApi, EvalSuiteListApi,
)
from approvals.api import ApprovalApproveApi, ApprovalBulkApi, ApprovalDetailApi, ApprovalListApi, ApprovalRejectApi
from runs.api import (BudgetsApi, RunCancelApi, RunDetailApi, RunEventsApi, RunHoldApi, RunListCreateApi,
                      RunStepsApi, StepPromptApi)
from runs.thread_api import ThreadDetailApi, ThreadListCreateApi
from tools.api import ToolDetailApi, ToolListApi

urlpatterns = [
    path("agents/", AgentListApi.as_view(), name="api-agent-list"),
    path("agents/<slug:slug>/", AgentDetailApi.as_view(), name="api-agent-detail"),
    path("agents/<slug:slug>/access/", AgentAccessApi.as_view(), name="api-agent-access"),
    path("runs/", RunListCreateApi.as_view(), name="api-run-list"),
    path("runs/<uuid:run_id>/", RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<uuid:run_id>/steps/", RunStepsApi.as_view(), name="api-run-steps"),
    path("runs/<uuid:run_id>/events/", RunEventsApi.as_view(), name="api-run-events"),
    path("runs/<uuid:run_id>/steps/<int:seq>/prompt/", StepPromptApi.as_view(), name="api-run-step-prompt"),
    path("runs/<uuid:run_id>/cancel/", RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<uuid:run_id>/hold/", RunHoldApi.as_view(), name="api-run-hold"),
    path("threads/", ThreadListCreateApi.as_view(), name="api-thread-list"),
    # A thread id is the client's own string: "/" in it (sent raw or as %2F) still reaches its thread.
    path("threads/<path:thread_id>/", ThreadDetailApi.as_view(), name="api-thread-detail"),
    path("approvals/", ApprovalListApi.as_view(), name="api-approval-list"),
    path("approvals/bulk/", ApprovalBulkApi.as_view(), name="api-approval-bulk"),
    path("approvals/<int:pk>/", ApprovalDetailApi.as_view(), name="api-approval-detail"),
    path("approvals/<int:pk>/approve/", ApprovalApproveApi.as_view(), name="api-approval-approve"),
    path("approvals/<int:pk>/reject/", ApprovalRejectApi.as_view(), name="api-approval-reject"),
    path("tools/", ToolListApi.as_view(), name="api-tool-list"),
    path("tools/<str:name>/", ToolDetailApi.as_view(), name="api-tool-detail"),
    path("secrets/", SecretListApi.as_view(), name="api-secret-list"),
    path("secrets/<str:name>/", SecretDetailApi.as_view(), name="api-secret-detail"),
    path("memory/", MemoryListCreateApi.as_view(), name="api-memory-list"),
    path("memory/bulk/", MemoryBulkApi.as_view(), name="api-memory-bulk"),
    path("memory/search/", MemorySearchApi.as_view(), name="api-memory-search"),
    path("memory/forget/", MemoryForgetApi.as_view(), name="api-memory-forget"),
    path("memory/<int:pk>/", MemoryDetailApi.as_view(), name="api-memory-detail"),
    path("members/", MemberListApi.as_view(), name="api-member-list"),
    path("members/<str:username>/", MemberDetailApi.as_view(), name="api-member-detail"),
    path("evals/suites/", EvalSuiteListApi.as_view(), name="api-eval-suite-list"),
    path("evals/suites/<int:suite_id>/", EvalSuiteDetailApi.as_view(), name="api-eval-suite-detail"),
    path("evals/suites/<int:suite_id>/cases/", EvalCasesApi.as_view(), name="api-eval-cases"),
    path("evals/runs/", EvalRunListApi.as_view(), name="api-eval-run-list"),
    path("evals/runs/<int:eval_run_id>/", EvalRunDetailApi.as_view(), name="api-eval-run-detail"),
    path("evals/runs/<int:eval_run_id>/comparison/", EvalRunComparisonApi.as_view(),
         name="api-eval-run-comparison"),
    path("budgets/", BudgetsApi.as_view(), name="api-budgets"),
]
