from django.contrib import admin

from agentops.admin import ReadOnlyModelAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "tenant", "seq", "action", "actor_type", "actor_label", "target_type", "target_label"]
    list_filter = ["tenant", "action", "actor_type", "target_type", "key_id"]
    search_fields = ["action", "actor_label", "target_label", "target_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
