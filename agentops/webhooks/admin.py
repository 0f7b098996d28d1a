"""Webhooks are configured here, through the services (which clear the configuration cache);
deliveries are a read-only log whose pending or failed entries can be retried."""

from django.contrib import admin, messages
from django.db import models

from agentops.admin import TenantScopedAdminMixin
from agentops.audit.admin import AuditedAdminMixin

from .models import DeliveryStatus, Webhook, WebhookDelivery
from .services import webhook_delete, webhook_delivery_retry, webhook_save


@admin.register(Webhook)
class WebhookAdmin(AuditedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    manage_permission = "manage_webhooks"
    audit_redacted = ("secret",)  # a reference, not the value; still, what signs deliveries is nobody's reading
    list_display = ["name", "tenant", "url", "events", "active", "created_at"]
    list_filter = ["active", "tenant"]
    search_fields = ["name", "url"]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        webhook_save(webhook=obj)

    def delete_model(self, request, obj):
        webhook_delete(webhook=obj)

    def delete_queryset(self, request, queryset):
        for webhook in queryset:
            webhook_delete(webhook=webhook)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_field = "webhook__tenant"
    manage_permission = "manage_webhooks"  # retrying, and the log going with a deleted webhook
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
        selected = queryset.exclude(status=DeliveryStatus.SUCCEEDED).values_list("pk", flat=True)
        queued = sum(webhook_delivery_retry(delivery_id=delivery_id) for delivery_id in selected)
        self.message_user(request, f"{queued} deliveries queued.", messages.SUCCESS)
