"""/api/v1/: each app contributes its endpoints here."""

from django.urls import path

from agentops.agents.api import AgentDetailApi, AgentListApi
from runs.api import RunCancelApi, RunDetailApi, RunListCreateApi, RunStepsApi

urlpatterns = [
    path("agents/", AgentListApi.as_view(), name="api-agent-list"),
    path("agents/<slug:slug>/", AgentDetailApi.as_view(), name="api-agent-detail"),
    path("runs/", RunListCreateApi.as_view(), name="api-run-list"),
    path("runs/<uuid:run_id>/", RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<uuid:run_id>/steps/", RunStepsApi.as_view(), name="api-run-steps"),
    path("runs/<uuid:run_id>/cancel/", RunCancelApi.as_view(), name="api-run-cancel"),
]
