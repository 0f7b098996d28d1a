from rest_framework import serializers

from agentops.api import MAX_QUERY_INT, StrictCharField, StrictInputMixin

from .models import COMMENT_MAX_LENGTH, ApprovalDecision, ApprovalRequest, ApprovalStatus
from .services import BULK_MAX

SEEN_HASH_MAX_LENGTH = ApprovalDecision._meta.get_field("seen_hash").max_length


class ApprovalVoteSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = ApprovalDecision
        fields = ["user", "verdict", "comment", "changes", "created_at"]


class ApprovalRequestSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)
    seen_hash = serializers.CharField(
        source="current_hash", read_only=True,
        help_text="Send this back with a decision: it binds the decision to the arguments you were shown.",
    )
    arguments = serializers.JSONField(
        source="arguments_under_review", read_only=True,
        help_text="The arguments a decision approves now: the proposal, or an edit awaiting the rest of the quorum.",
    )
    approvals = serializers.IntegerField(source="approval_count", read_only=True)
    approver_group = serializers.CharField(source="approver_group.name", read_only=True, default=None,
                                           allow_null=True)
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True, default=None,
                                         allow_null=True)
    decided_by = serializers.CharField(source="decided_by.get_username", read_only=True, default=None,
                                       allow_null=True)
    votes = ApprovalVoteSerializer(source="decisions", many=True, read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id", "status", "title", "agent", "tool_name", "run", "step_seq", "risk", "context",
            "proposed_arguments", "arguments", "seen_hash", "approved_arguments", "required_approvals", "approvals",
            "approver_group", "expires_at", "expiry_action", "escalated_at", "requested_by", "decided_by",
            "decided_at", "comment", "created_at", "votes",
        ]
        read_only_fields = fields


class ApprovalListFilterSerializer(serializers.Serializer):
    """The list's filters; an empty one (`?status=`) filters nothing."""

    status = serializers.ChoiceField(choices=ApprovalStatus.choices, required=False, allow_blank=True,
                                     help_text="Default: every status.")
    agent = serializers.CharField(required=False, allow_blank=True, help_text="Agent slug.")
    tool = serializers.CharField(required=False, allow_blank=True, help_text="Tool name.")


class ApprovalPageParamsSerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, help_text="The `next` or `previous` cursor of a page; "
                                                             "omit for the first (oldest) page.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500,
                                     help_text="Number of results per page (default 50).")
    offset = serializers.CharField(required=False, write_only=True, help_text="Not accepted: page with `cursor`.")

    def validate_offset(self, value):
        raise serializers.ValidationError("This list pages with cursors: follow `next` and `previous`.")


SEEN_HASH_HELP = "The request's `seen_hash` as you read it; 409 `stale` if it changed."


class ApprovalApproveInputSerializer(StrictInputMixin, serializers.Serializer):
    seen_hash = StrictCharField(max_length=SEEN_HASH_MAX_LENGTH, help_text=SEEN_HASH_HELP)
    comment = StrictCharField(required=False, allow_blank=True, default="", max_length=COMMENT_MAX_LENGTH)
    arguments = serializers.DictField(
        required=False, allow_null=True, default=None, child=serializers.JSONField(),
        help_text="Edited arguments; omit to approve them as shown. Validated against the tool's schema.",
    )


class ApprovalRejectInputSerializer(StrictInputMixin, serializers.Serializer):
    seen_hash = StrictCharField(max_length=SEEN_HASH_MAX_LENGTH, help_text=SEEN_HASH_HELP)
    comment = StrictCharField(
        required=False, allow_blank=True, default="", max_length=COMMENT_MAX_LENGTH,
        help_text="Why: required (400 `comment_required` without it); the agent and the requester read it.",
    )


class ApprovalBulkItemSerializer(StrictInputMixin, serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_QUERY_INT)
    seen_hash = StrictCharField(max_length=64, help_text="The request's `seen_hash` as you read it.")


class ApprovalBulkInputSerializer(StrictInputMixin, serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["approve", "reject"])
    comment = StrictCharField(required=False, allow_blank=True, default="", max_length=COMMENT_MAX_LENGTH,
                              help_text="One comment for every request; required to reject.")
    requests = ApprovalBulkItemSerializer(many=True, allow_empty=False, max_length=BULK_MAX,
                                          help_text=f"Identical requests (same tool, arguments and policy), "
                                                    f"at most {BULK_MAX}.")


class ApprovalBulkErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ApprovalBulkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="request_id")
    status = serializers.CharField(allow_null=True, help_text="After the decision; null when it was refused.")
    error = ApprovalBulkErrorSerializer(allow_null=True, help_text="Why this request was not decided.")


class ApprovalBulkOutputSerializer(serializers.Serializer):
    results = ApprovalBulkResultSerializer(many=True)
