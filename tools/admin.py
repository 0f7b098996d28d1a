from django import forms
from django.contrib import admin, messages
from guardian.admin import GuardedModelAdmin

from agentops.admin import ConfigAdminMixin
from agentops.audit.services import Actor

from .models import DEFINITION_FIELDS, EDITABLE_FIELDS, Tool, ToolKind
from .services import ToolConflict, ToolInvalid, tool_create, tool_delete, tool_update


class ToolAdminForm(forms.ModelForm):
    class Meta:
        model = Tool
        fields = "__all__"

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind == ToolKind.PYTHON and not (self.instance.pk and self.instance.is_code):
            raise forms.ValidationError("Python tools are declared in code with @tool and registered at start-up.")
        return kind


@admin.register(Tool)
class ToolAdmin(ConfigAdminMixin, GuardedModelAdmin):
    """Every save goes through the services (validated, audited). Code tools show their definition
    read-only: only their policies can change here. Object permissions (who may use a tool) are
    under "Object permissions" on a tool's page."""

    form = ToolAdminForm
    list_display = ["name", "tenant", "kind", "effect", "approval", "approval_condition", "enabled", "updated_at"]
    list_filter = ["kind", "effect", "approval", "enabled", "tenant"]
    search_fields = ["name", "description"]
    list_select_related = ["tenant"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "description", "kind", "enabled"]}),
        ("Definition", {"fields": ["input_schema", "output_schema", "config", "idempotent", "effect"]}),
        ("Execution", {"fields": ["timeout_seconds", "retry_policy"]}),
        ("Approval", {"fields": ["approval", "approval_condition", "required_approvals", "approver_group",
                                 "expires_in_seconds", "expiry_action", "escalation_group"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["created_at", "updated_at"]
        if obj is not None:
            readonly += ["tenant", "name"]
            if obj.is_code:
                readonly += list(DEFINITION_FIELDS)
        return readonly

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        try:
            if change:
                changes = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
                tool_update(tool=obj, changes=changes, actor=actor)
            else:
                fields = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS
                          if field in form.cleaned_data and field != "kind"}
                created = tool_create(tenant=obj.tenant, name=obj.name, kind=obj.kind, actor=actor, **fields)
                obj.pk = created.pk
        except (ToolInvalid, ToolConflict) as exc:  # the form checked the same rules; a race can still lose
            self.message_user(request, str(exc), messages.ERROR)

    def delete_model(self, request, obj):
        tool_delete(tool=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        for tool in queryset:
            try:
                self.delete_model(request, tool)
            except ToolInvalid as exc:  # a code tool in the selection
                self.message_user(request, str(exc), messages.WARNING)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_code and obj.is_global:
            return False  # the next sync would bring it back: disable it instead
        return super().has_delete_permission(request, obj)

from .demo import admin as demo_admin  # noqa: E402,F401  (registers the demo tables' pages)
