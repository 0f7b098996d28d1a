"""Runs in the admin: read-only (the engine writes them), for looking things up by id or filter.

Operators use the trace viewer; the admin links there instead of listing a run's steps inline,
which for a long run would be thousands of rows.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from agentops.admin import ReadOnlyModelAdmin, TenantScopedAdminMixin

from .models import DailyUsage, Run


@admin.register(Run)
class RunAdmin(TenantScopedAdminMixin, ReadOnlyModelAdmin):
    list_display = ["id", "tenant", "agent", "status", "waiting_reason", "step_count", "cost", "created_at", "trace"]
    list_filter = ["status", "waiting_reason", "tenant", "agent"]
    search_fields = ["id", "idempotency_key", "thread"]
    list_select_related = ["tenant", "agent"]
    date_hierarchy = "created_at"

    @admin.display(description="Trace")
    def trace(self, run):
        return format_html('<a href="{}">open</a>', reverse("runs:trace", args=[run.pk]))


@admin.register(DailyUsage)
class DailyUsageAdmin(TenantScopedAdminMixin, ReadOnlyModelAdmin):
    list_display = ["day", "tenant", "agent", "model_calls", "tokens_in", "tokens_out", "cost"]
    list_filter = ["tenant", "day"]
    list_select_related = ["tenant", "agent"]
    date_hierarchy = "day"
