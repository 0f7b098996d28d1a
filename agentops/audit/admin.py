from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "seq", "action", "actor_type", "actor_label", "target_type", "target_label"]
    list_filter = ["tenant", "action", "actor_type", "target_type"]
    search_fields = ["action", "actor_label", "target_label", "target_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
