from rest_framework import serializers

from agentops.api import StrictInputMixin

from .models import Agent, AgentVersion


class AgentVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentVersion
        fields = ["number", "model", "provider", "system_prompt", "temperature", "tools", "workflow",
                  "max_steps", "max_cost", "timeout_seconds", "child_workflows", "max_child_depth", "memory",
                  "context_budget_tokens", "created_at"]


class AgentSerializer(serializers.ModelSerializer):
    current_version = AgentVersionSerializer(read_only=True)

    class Meta:
        model = Agent
        fields = ["slug", "name", "description", "restricted", "current_version", "created_at"]


class AgentVersionChangeSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Settings of the agent's next version; those left out keep the current version's values."""

    class Meta:
        model = AgentVersion
        fields = list(AgentVersion.CONFIG_FIELDS)


class AgentAccessSerializer(StrictInputMixin, serializers.Serializer):
    restricted = serializers.BooleanField(
        help_text="true: only `users` and members of `groups` may start runs (with a role that runs agents); "
                  "false: every member whose role runs agents.")
    users = serializers.ListField(child=serializers.CharField(), max_length=1000,
                                  help_text="Usernames of members of the tenant.")
    groups = serializers.ListField(child=serializers.CharField(), max_length=1000,
                                   help_text="Names of the tenant's groups.")
