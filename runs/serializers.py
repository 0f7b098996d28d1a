from django.contrib.auth import get_user_model
from rest_framework import serializers

from .journal_view import resolved
from .models import Run, Step


class RunCreateSerializer(serializers.Serializer):
    agent = serializers.SlugField(help_text="The agent's slug.")
    input = serializers.JSONField(required=False, help_text="Structured input for the workflow (an object).")
    message = serializers.CharField(required=False, max_length=100_000, help_text="A user message (agent_loop).")
    thread = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    on_behalf_of = serializers.CharField(required=False, help_text="Username of the end user the run acts for.")
    metadata = serializers.DictField(required=False, default=dict)

    def validate_input(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("input must be a JSON object")
        return value

    def validate_on_behalf_of(self, value):
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"no user {value!r}")
        return user

    def validate(self, data):
        if ("input" in data) == ("message" in data):
            raise serializers.ValidationError({"input": "give exactly one of 'input' or 'message'"})
        if "message" in data:
            data["input"] = {"message": data.pop("message")}
        return data


class RunSerializer(serializers.ModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent_version = serializers.IntegerField(source="agent_version.number", read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    on_behalf_of = serializers.CharField(source="on_behalf_of.username", default=None, read_only=True)
    parent = serializers.UUIDField(source="parent_id", read_only=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id", "agent", "agent_version", "workflow", "status", "waiting_reason", "input", "output", "error",
            "thread", "metadata", "created_by", "on_behalf_of", "parent", "step_count", "tokens_in",
            "tokens_out", "cost", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


class StepSerializer(serializers.ModelSerializer):
    prompt = serializers.SerializerMethodField(help_text="For model steps: the full message list sent.")
    duration_ms = serializers.FloatField(read_only=True)

    class Meta:
        model = Step
        fields = [
            "seq", "parent_seq", "kind", "name", "status", "input", "prompt", "output", "error", "attempt",
            "started_at", "finished_at", "duration_ms", "model", "tokens_in", "tokens_out", "tokens_cached",
            "cost", "price",
        ]
        read_only_fields = fields

    def to_representation(self, step):
        """Payloads stored as blobs are given whole (the view loads every blob of the page at once)."""
        data = super().to_representation(step)
        blobs = self.context.get("blobs")
        if blobs is not None:
            data["input"], data["output"] = resolved(data["input"], blobs), resolved(data["output"], blobs)
        return data

    def get_prompt(self, step) -> list | None:
        prompts = self.context.get("prompts", {})
        messages = prompts.get(step.seq)
        return [m.message for m in messages] if messages is not None else None
