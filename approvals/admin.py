"""Admin for approvals.

Approval requests are read-only here: a decision must go through the inbox or the API, where it
is checked, audited and resumes the run.
"""

from django.contrib import admin

from agentops.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin, TenantScopedInlineMixin

from .models import ApprovalDecision, ApprovalRequest


class ApprovalDecisionInline(ReadOnlyAdminMixin, TenantScopedInlineMixin, admin.TabularInline):
    model = ApprovalDecision
    fields = ["user", "verdict", "comment", "changes", "seen_hash", "approved_hash", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "title", "tenant", "tool_name", "status", "risk", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "risk", "expiry_action", "tenant"]
    search_fields = ["title", "tool_name", "run__id"]
    list_select_related = ["tenant", "decided_by"]
    raw_id_fields = ["run", "requested_by", "decided_by", "approver_group", "escalation_group"]
    readonly_fields = ["proposed_hash", "current_hash", "created_at"]
    date_hierarchy = "created_at"
    inlines = [ApprovalDecisionInline]
