from rest_framework import serializers

from agentops.api import StrictCharField, StrictInputMixin

from .models import VALUE_MAX_BYTES, TenantSecret


class SecretSerializer(serializers.ModelSerializer):
    """What may be shown of a secret: never its value."""

    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="Who set the current value (empty: a system change).")

    class Meta:
        model = TenantSecret
        fields = ["name", "last_four", "created_at", "updated_at", "updated_by"]
        read_only_fields = fields


class SecretValueSerializer(StrictInputMixin, serializers.Serializer):
    # Characters bound the size before the service counts its bytes (a character is 1 to 4 of them).
    value = StrictCharField(write_only=True, trim_whitespace=False, max_length=VALUE_MAX_BYTES,
                                  help_text=f"The value, at most {VALUE_MAX_BYTES} bytes of UTF-8. Never shown again.")
