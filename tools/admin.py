from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm, GuardedModelAdmin

from agentops.admin import TenantScopedAdminMixin
from agentops.audit.services import Actor
from agentops.tenancy.models import Membership, TenantGroup

from .errors import ToolConflict, ToolInvalid
from .models import DEFINITION_FIELDS, EDITABLE_FIELDS, Tool, ToolKind
from .services import tool_create, tool_delete, tool_permissions_set, tool_update
from .validation import tool_errors


def _as_id(value: str) -> int:
    if not str(value).isdigit():
        raise Http404
    return int(value)


class ToolAdminForm(forms.ModelForm):
    class Meta:
        model = Tool
        fields = "__all__"

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind == ToolKind.PYTHON and not (self.instance.pk and self.instance.is_code):
            raise forms.ValidationError("Python tools are declared in code with @tool and registered at start-up.")
        return kind

    def _post_clean(self):
        # The services' checks, shown on the form's fields. After super(), which has copied the
        # form's values onto the instance and run the fields' validators (the point where Django's
        # own UserCreationForm validates a password too).
        super()._post_clean()
        for field, problems in tool_errors(self.instance).items():
            if field not in self.fields:  # read-only here: say which field the message is about
                self.add_error(None, [f"{field}: {problem}" for problem in problems])
            elif not self.has_error(field):  # an invalid value was not copied: its own error says why
                self.add_error(field, problems)


class _UserPermissionsForm(AdminUserObjectPermissionsForm):
    actor: Actor  # set per request by ToolAdmin

    def save_obj_perms(self):
        permissions = set(self.cleaned_data[self.get_obj_perms_field_name()])
        tool_permissions_set(tool=self.obj, grantee=self.user, permissions=permissions, actor=self.actor)


class _GroupPermissionsForm(AdminGroupObjectPermissionsForm):
    actor: Actor

    def save_obj_perms(self):
        permissions = set(self.cleaned_data[self.get_obj_perms_field_name()])
        tool_permissions_set(tool=self.obj, grantee=self.group, permissions=permissions, actor=self.actor)


@admin.register(Tool)
class ToolAdmin(TenantScopedAdminMixin, GuardedModelAdmin):
    """Every save and delete goes through the services (validated, audited, clearing the
    configuration cache). Code tools show their definition read-only: only their policies can change
    here. Object permissions (who may use a tool) are under "Object permissions" on a tool's page.
    A tenant's staff see global tools but change only their tenant's."""

    global_rows = True
    manage_permission = "manage_tools"

    form = ToolAdminForm
    list_display = ["name", "tenant", "kind", "effect", "approval", "approval_condition", "enabled", "updated_at"]
    list_filter = ["kind", "effect", "approval", "enabled", "tenant"]
    search_fields = ["name", "description"]
    list_select_related = ["tenant"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "description", "kind", "enabled"]}),
        ("Definition", {"fields": ["input_schema", "output_schema", "config", "idempotent", "effect"]}),
        ("Execution", {"fields": ["timeout_seconds", "retry_policy"]}),
        ("Rules", {"fields": ["argument_rules"]}),
        ("Approval", {"fields": ["approval", "approval_condition", "required_approvals", "approver_group",
                                 "expires_in_seconds", "expiry_action", "escalation_group"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    # Guardian's "Object permissions" pages name any user or group: a tenant's staff grant the use
    # of their own tenant's tools, to their tenant's members and groups only.
    def obj_perms_manage_view(self, request, object_pk):
        self._refuse_outside_tenant(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        tool = self._refuse_outside_tenant(request, object_pk)
        if tool and not Membership.objects.filter(tenant_id=tool.tenant_id, user_id=_as_id(user_id)).exists():
            raise Http404
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        tool = self._refuse_outside_tenant(request, object_pk)
        if tool and not TenantGroup.objects.filter(tenant_id=tool.tenant_id, group_id=_as_id(group_id)).exists():
            raise Http404
        return super().obj_perms_manage_group_view(request, object_pk, group_id)

    def _refuse_outside_tenant(self, request, object_pk) -> Tool | None:
        """The tool whose grants a tenant's staff member may manage (None for a superuser, whom
        nothing limits); 404 when it is not their tenant's."""
        if request.user.is_superuser:
            return None
        tool = self.get_object(request, unquote(object_pk))
        if tool is None or not self.has_change_permission(request, tool):
            raise Http404
        return tool

    def get_obj_perms_manage_user_form(self, request):
        return type("UserPermissionsForm", (_UserPermissionsForm,), {"actor": Actor.for_user(request.user)})

    def get_obj_perms_manage_group_form(self, request):
        return type("GroupPermissionsForm", (_GroupPermissionsForm,), {"actor": Actor.for_user(request.user)})

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
