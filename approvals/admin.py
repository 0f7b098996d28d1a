"""Admin for approvals and webhooks.

Approval requests are read-only here: a decision must go through the inbox or the API, where it
is checked, audited and resumes the run. Webhooks are configured here; deliveries can be retried.
"""

from django.contrib import admin, messages
from django.db import models

from agentops.admin import ReadOnlyAdminMixin

from .models import ApprovalDecision, ApprovalRequest, Webhook, WebhookDelivery
from .webhooks import webhook_delivery_retry


class ApprovalDecisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ApprovalDecision
    fields = ["user", "verdict", "comment", "changes", "seen_hash", "approved_hash", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "title", "tenant", "tool_name", "status", "risk", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "risk", "expiry_action", "tenant"]
    search_fields = ["title", "tool_name", "run__id"]
    list_select_related = ["tenant", "decided_by"]
    raw_id_fields = ["run", "requested_by", "decided_by", "approver_group", "escalation_group"]
    readonly_fields = ["proposed_hash", "current_hash", "created_at"]
    date_hierarchy = "created_at"
    inlines = [ApprovalDecisionInline]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "url", "events", "active", "created_at"]
    list_filter = ["active", "tenant"]
    search_fields = ["name", "url"]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "webhook", "status", "attempts", "response_code", "created_at", "delivered_at",
                    "next_attempt_at"]
    list_filter = ["status", "event"]
    search_fields = ["uuid", "event", "webhook__name"]
    list_select_related = ["webhook", "webhook__tenant"]
    raw_id_fields = ["webhook"]
    readonly_fields = ["webhook", "uuid", "event", "payload", "status", "attempts", "response_code", "error",
                       "next_attempt_at", "last_attempt_at", "delivered_at", "created_at"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected deliveries now")
    def retry_now(self, request, queryset):
        deliveries = list(queryset.exclude(status="succeeded"))
        for delivery in deliveries:
            webhook_delivery_retry(delivery=delivery)
        self.message_user(request, f"{len(deliveries)} deliveries queued.", messages.SUCCESS)
