from rest_framework import serializers

from .models import Agent, AgentVersion


class AgentVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentVersion
        fields = ["number", "model", "provider", "system_prompt", "temperature", "tools", "workflow",
                  "max_steps", "max_cost", "timeout_seconds", "created_at"]


class AgentSerializer(serializers.ModelSerializer):
    current_version = AgentVersionSerializer(read_only=True)

    class Meta:
        model = Agent
        fields = ["slug", "name", "description", "current_version", "created_at"]
