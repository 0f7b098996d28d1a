from django.conf import settings
from rest_framework import serializers
from rest_framework.fields import empty

from agentops.api import StrictCharField, StrictInputMixin

from .models import MemoryItem, MemoryKind, MemoryScope

BULK_MAX = 1000
SEARCH_LIMIT_MAX = 50


class MemoryItemSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = MemoryItem
        fields = ["id", "scope", "subject", "kind", "content", "metadata", "source_run", "source_step", "created_by",
                  "created_at", "updated_at", "expires_at", "embedding_state"]
        read_only_fields = fields


class MemoryItemCreateSerializer(StrictInputMixin, serializers.Serializer):
    """The values of memory_save; size limits and the subject rule are checked by the service."""

    scope = serializers.ChoiceField(choices=MemoryScope.choices)
    subject = StrictCharField(max_length=150, required=False, allow_blank=True, default="",
                              help_text="The username (scope user), the agent's slug (agent), empty (tenant).")
    kind = serializers.ChoiceField(choices=MemoryKind.choices, default=MemoryKind.FACT)
    # The model's limit is a setting; this bound only keeps a hostile body from being stored or parsed further.
    content = StrictCharField(max_length=1_000_000, trim_whitespace=False,
                              help_text=f"At most AGENTOPS_MEMORY_MAX_CONTENT_CHARS ({settings.AGENTOPS_MEMORY_MAX_CONTENT_CHARS}) characters.")
    metadata = serializers.DictField(required=False, default=dict, help_text="A JSON object; `key = value` filters read it.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MemoryItemUpdateSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=MemoryKind.choices, required=False)
    content = StrictCharField(max_length=1_000_000, required=False, trim_whitespace=False)
    metadata = serializers.DictField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class MemoryBulkSerializer(StrictInputMixin, serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=BULK_MAX,
                                  help_text=f"Up to {BULK_MAX} items, each as for POST /api/v1/memory/.")


class MemoryBulkResultSerializer(serializers.Serializer):
    results = MemoryItemSerializer(many=True)


class QueryDateTimeField(serializers.DateTimeField):
    """A query parameter's date and time: an empty one (`?since=`) is refused, not taken for none."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class MemoryListFilterSerializer(serializers.Serializer):
    """Filters; an empty `scope` or `kind` filters nothing, an empty `subject` means the tenant's items."""

    scope = serializers.ChoiceField(choices=MemoryScope.choices, required=False, allow_blank=True)
    subject = serializers.CharField(max_length=150, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=MemoryKind.choices, required=False, allow_blank=True)
    since = QueryDateTimeField(required=False, help_text="Items changed at or after this time.")


class MemorySearchParamsSerializer(MemoryListFilterSerializer):
    q = serializers.CharField(max_length=2000, help_text="What to look for, in plain words.")
    limit = serializers.IntegerField(required=False, default=5, min_value=1, max_value=SEARCH_LIMIT_MAX)
    metadata = serializers.RegexField(r"^([^=]{1,100}=.{0,500})?$", required=False, allow_blank=True,
                                      help_text="`key=value`: only items whose metadata has that value.")

    def validate_metadata(self, text):
        if not text:
            return None
        key, value = text.split("=", 1)
        return {key: value}


class MemoryPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MemoryItemSerializer(many=True)


class MemorySearchResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    content = serializers.CharField()
    kind = serializers.CharField()
    scope = serializers.CharField()
    subject = serializers.CharField()
    metadata = serializers.JSONField()
    score = serializers.FloatField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MemorySearchSerializer(serializers.Serializer):
    results = MemorySearchResultSerializer(many=True)


class MemoryForgetSerializer(StrictInputMixin, serializers.Serializer):
    scope = serializers.ChoiceField(choices=[MemoryScope.USER], required=False)
    subject = StrictCharField(max_length=150, required=False)
    thread = StrictCharField(max_length=200, required=False)

    def validate(self, data):
        if bool(data.get("thread")) == bool(data.get("scope") and data.get("subject")):
            raise serializers.ValidationError('Name either a user ({"scope": "user", "subject": "<username>"}) '
                                              'or a thread ({"thread": "<id>"}).')
        return data


class MemoryForgetResultSerializer(serializers.Serializer):
    runs = serializers.IntegerField(required=False)
    thread_summaries = serializers.IntegerField(required=False)
    steps = serializers.IntegerField(required=False)
    blobs = serializers.IntegerField(required=False)
    webhook_deliveries = serializers.IntegerField(required=False)
    approval_requests = serializers.IntegerField(required=False)
    approval_webhook_deliveries = serializers.IntegerField(required=False)
    memory_items = serializers.IntegerField()
