from django.contrib import admin

from agentops.admin import TenantScopedAdminMixin
from agentops.audit.services import Actor

from .models import MemoryItem, Thread
from .services import memory_delete, memory_save, memory_update


@admin.register(MemoryItem)
class MemoryItemAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Every user's items: for roles that manage memory. Saves and deletions go through the
    services (dedupe, audit events without the words), never straight to the table."""

    view_permission = manage_permission = "manage_memory"
    list_display = ["id", "tenant", "scope", "subject", "kind", "short_content", "updated_at", "expires_at",
                    "embedding_state"]
    list_filter = ["scope", "kind", "embedding_state"]
    search_fields = ["subject", "content"]
    list_select_related = ["tenant"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["content_hash", "source_run", "source_step", "created_by", "created_at", "updated_at",
                       "embedding_state", "embedding_model"]
    exclude = ["embedding"]

    @admin.display(description="content")
    def short_content(self, item):
        return item.content[:80]

    def get_readonly_fields(self, request, obj=None):
        # Where an item belongs is fixed once saved: moving it would skip the dedupe of its new subject.
        fixed = ["tenant", "scope", "subject"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        values = {name: form.cleaned_data[name] for name in ("kind", "content", "metadata", "expires_at")}
        if change:
            memory_update(item=obj, actor=actor, **values)
        else:
            saved = memory_save(tenant=obj.tenant, scope=obj.scope, subject=obj.subject, created_by=request.user,
                                actor=actor, **values)
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        memory_delete(item=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        for item in queryset:
            self.delete_model(request, item)


@admin.register(Thread)
class ThreadAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Threads, read-only: runs make them, the API sets a new thread's policy; the summary is the
    model's."""

    list_display = ["external_id", "tenant", "title", "concurrency", "summary_turns", "last_prompt_tokens",
                    "created_by", "updated_at"]
    list_filter = ["concurrency"]
    search_fields = ["external_id", "title"]
    list_select_related = ["tenant", "created_by"]
    raw_id_fields = ["created_by"]
