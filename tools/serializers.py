from django.contrib.auth.models import Group
from rest_framework import serializers

from agentops.api import StrictInputMixin

from .models import EDITABLE_FIELDS, Tool, ToolKind
from .validation import tool_errors


class ToolSerializer(serializers.ModelSerializer):
    """A tool as the caller's tenant sees it."""

    scope = serializers.SerializerMethodField(help_text="global, or tenant (the tenant's own tool).")
    code = serializers.BooleanField(source="is_code", read_only=True,
                                    help_text="Defined in code: only its policies can change.")

    class Meta:
        model = Tool
        fields = ["name", "scope", "code", *EDITABLE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields

    def get_scope(self, tool: Tool) -> str:
        return "global" if tool.is_global else "tenant"


class _ToolInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    approver_group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), allow_null=True, required=False)
    escalation_group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), allow_null=True, required=False)


class ToolCreateSerializer(_ToolInputSerializer):
    """A new tenant tool; checked as a whole (schemas, adapter configuration, approval condition)."""

    class Meta:
        model = Tool
        fields = ["name", *EDITABLE_FIELDS]

    def validate_kind(self, kind):
        if kind == ToolKind.PYTHON:
            raise serializers.ValidationError("Python tools are declared in code with @tool.")
        return kind

    def validate(self, attrs):
        errors = tool_errors(Tool(**attrs))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ToolUpdateSerializer(_ToolInputSerializer):
    """Changed fields of a tool (PATCH); the service checks the tool they make as a whole."""

    class Meta:
        model = Tool
        fields = list(EDITABLE_FIELDS)
