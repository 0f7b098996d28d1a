"""/api/v1/: each app contributes its endpoints here."""

from django.urls import path

from agentops.agents.api import AgentDetailApi, AgentListApi

urlpatterns = [
    path("agents/", AgentListApi.as_view(), name="api-agent-list"),
    path("agents/<slug:slug>/", AgentDetailApi.as_view(), name="api-agent-detail"),
]
