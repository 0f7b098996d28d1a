from rest_framework import serializers

from agentops.api import StrictInputMixin

from .models import Membership
from .services import attributes_errors


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "attributes", "created_at"]
        read_only_fields = fields


class MemberAttributesSerializer(StrictInputMixin, serializers.Serializer):
    attributes = serializers.JSONField(
        help_text='Replaces the member\'s attributes, e.g. {"customer_id": "C-1001"}: what tool rules read as '
                  "user.attributes.")

    def validate_attributes(self, attributes):
        problems = attributes_errors(attributes)
        if problems:
            raise serializers.ValidationError(problems)
        return attributes
