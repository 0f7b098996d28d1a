from rest_framework import serializers

from agentops.api import StrictCharField, StrictInputMixin
from agentops.memory.models import Thread, ThreadConcurrency

from .serializers import RunSerializer


class ThreadCreateSerializer(StrictInputMixin, serializers.Serializer):
    """A new thread. Runs given an unknown `thread` make one too, with the default policy."""

    # Kept as given (not trimmed): it must equal the `thread` runs send.
    id = StrictCharField(max_length=200, trim_whitespace=False, help_text="The thread's id, as runs name it in "
                         "`thread`.")
    title = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    concurrency = serializers.ChoiceField(
        choices=ThreadConcurrency.choices, required=False, default=ThreadConcurrency.QUEUE,
        help_text="While a run of the thread is active, a new one: `queue` waits its turn (default), `reject` is "
                  "refused with 409 thread_busy, `interrupt` cancels the active run and starts when it has stopped.")


class ThreadSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id", read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    summary_through_run = serializers.UUIDField(read_only=True, allow_null=True,
                                                help_text="The last run whose turn `summary` covers.")

    class Meta:
        model = Thread
        fields = ["id", "title", "concurrency", "created_by", "summary", "summary_through_run", "summary_turns",
                  "last_prompt_tokens", "created_at", "updated_at"]
        read_only_fields = fields


class ThreadPageSerializer(serializers.Serializer):
    """A page of threads, newest first: follow `next` for older ones, `previous` for newer ones."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ThreadSerializer(many=True)


class ThreadDetailSerializer(ThreadSerializer):
    runs = RunSerializer(source="runs_shown", many=True, read_only=True, help_text="The thread's latest runs, oldest first.")

    class Meta(ThreadSerializer.Meta):
        fields = [*ThreadSerializer.Meta.fields, "runs"]
        read_only_fields = fields
