from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.forms.models import fields_for_model

from agentops.admin import ConfigAdminMixin, TenantScopedAdminMixin, TenantScopedInlineMixin
from agentops.audit.services import Actor

from .errors import AgentInvalid
from .models import Agent, AgentVersion
from .selectors import agent_access_get
from .services import AGENT_SETTINGS, agent_access_set, agent_create, agent_update, agent_version_create, child_rule_errors
from .validation import agent_config_errors


class AgentAdminForm(forms.ModelForm):
    """The agent's fields, who may start it, and its current version's settings; saving changed
    settings makes a new version."""

    # The tenants whose members and groups the access fields offer (None: every tenant's, for a
    # platform admin adding an agent); set per request by AgentAdmin.get_form.
    access_tenant_ids: set | None = None

    access_users = forms.ModelMultipleChoiceField(
        get_user_model().objects.none(), required=False, widget=FilteredSelectMultiple("users", False),
        help_text="Members who may start runs of a restricted agent (their role must run agents).")
    access_groups = forms.ModelMultipleChoiceField(
        Group.objects.none(), required=False, widget=FilteredSelectMultiple("groups", False),
        help_text="The tenant's groups whose members may start runs of a restricted agent.")

    class Meta:
        model = Agent
        fields = ["tenant", "slug", "name", "description", "restricted", "daily_cost_limit", "monthly_cost_limit"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(AgentVersion, fields=AgentVersion.CONFIG_FIELDS))
        current = self.instance.current_version if self.instance.pk else None
        if current:
            for name in AgentVersion.CONFIG_FIELDS:
                self.initial[name] = getattr(current, name)
        if self.instance.pk:
            for name in ("tenant", "slug"):
                if name in self.fields:  # a viewer's page shows every field read-only: none is in the form
                    self.fields[name].disabled = True
        self._offer_access()

    def _offer_access(self) -> None:
        tenant_ids = {self.instance.tenant_id} if self.instance.pk else self.access_tenant_ids
        users = get_user_model().objects.filter(memberships__isnull=False).distinct().order_by("username")
        groups = Group.objects.filter(tenant_link__isnull=False).order_by("name")
        if tenant_ids is not None:
            users = users.filter(memberships__tenant_id__in=tenant_ids)
            groups = groups.filter(tenant_link__tenant_id__in=tenant_ids)
        self.fields["access_users"].queryset = users
        self.fields["access_groups"].queryset = groups
        if self.instance.pk:
            access = agent_access_get(agent=self.instance)
            self.initial["access_users"] = list(users.filter(username__in=access["users"]))
            self.initial["access_groups"] = list(groups.filter(name__in=access["groups"]))

    def clean(self):
        cleaned = super().clean()
        for field, problems in child_rule_errors({name: cleaned[name] for name in ("child_workflows", "max_child_depth")
                                                  if name in cleaned}).items():
            self.add_error(field, problems)
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        # Checked when the settings change (they make a new version), so an agent whose tool was
        # deleted can still be renamed. A field that failed its own validation is missing from
        # cleaned_data and has its error already.
        if tenant is not None and all(name in cleaned for name in AgentVersion.CONFIG_FIELDS) \
                and not self._settings_unchanged():
            for field, messages in agent_config_errors(tenant=tenant, config=self.version_config()).items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned

    def _settings_unchanged(self) -> bool:
        current = self.instance.current_version if self.instance.pk else None
        # As agent_version_create compares them: max_cost 0.5 equals the stored 0.500000.
        config = {name: AgentVersion._meta.get_field(name).to_python(value)
                  for name, value in self.version_config().items()}
        return current is not None and current.config() == config

    def version_config(self) -> dict:
        return {name: self.cleaned_data[name] for name in AgentVersion.CONFIG_FIELDS}

    def save_access(self, agent: Agent, actor: Actor) -> None:
        """Raises AgentInvalid for a member or group of another tenant than the agent's."""
        agent_access_set(agent=agent, restricted=self.cleaned_data["restricted"], actor=actor,
                         users=self.cleaned_data["access_users"], groups=self.cleaned_data["access_groups"])


class AgentVersionInline(TenantScopedInlineMixin, admin.TabularInline):
    model = AgentVersion
    fields = ["number", "model", "provider", "workflow", "tools", "max_steps", "max_cost", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    manage_permission = "manage_agents"
    form = AgentAdminForm
    list_display = ["slug", "name", "tenant", "restricted", "current_version", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["slug", "name"]
    list_select_related = ["tenant", "current_version"]
    inlines = [AgentVersionInline]
    fieldsets = [
        (None, {"fields": ["tenant", "slug", "name", "description"]}),
        ("Who may start it", {"fields": ["restricted", "access_users", "access_groups"]}),
        ("Budget (within the tenant's; see docs/costs.md)", {"fields": ["daily_cost_limit", "monthly_cost_limit"]}),
        ("Current version (saving a change creates a new version)", {"fields": list(AgentVersion.CONFIG_FIELDS)}),
    ]

    def get_form(self, request, obj=None, **kwargs):
        # The fieldsets name the version's settings, which are not Agent fields: the form adds them
        # itself, so build the ModelForm from the agent's own fields only.
        kwargs["fields"] = AgentAdminForm.Meta.fields
        form = super().get_form(request, obj, **kwargs)
        tenant_ids = None if request.user.is_superuser else self.managed_tenant_ids(request)
        return type(form.__name__, (form,), {"access_tenant_ids": tenant_ids})

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        data = form.cleaned_data
        if change:
            agent_update(agent=obj, actor=actor, **{name: data[name] for name in AGENT_SETTINGS})
            agent_version_create(agent=obj, config=form.version_config(), actor=actor, user=request.user)
        else:
            created = agent_create(
                tenant=data["tenant"], slug=data["slug"], name=data["name"], description=data["description"],
                config=form.version_config(), actor=actor, user=request.user,
            )
            obj.pk = created.pk
        try:
            form.save_access(obj, actor)
        except AgentInvalid as exc:  # a platform admin chose another tenant's member or group
            self.message_user(request, f"Access not changed: {exc.message}", messages.ERROR)

    def save_related(self, request, form, formsets, change):
        pass  # versions are created by the service, never edited inline

    def construct_change_message(self, request, form, formsets, add=False):
        # The version inline is display-only and never saved, so it has no changes to describe.
        return super().construct_change_message(request, form, [], add)


@admin.register(AgentVersion)
class AgentVersionAdmin(ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_field = "agent__tenant"
    list_display = ["agent", "number", "model", "provider", "workflow", "drained", "created_by", "created_at"]
    list_filter = ["agent__tenant", "provider", "workflow"]
    list_select_related = ["agent", "created_by"]
    search_fields = ["agent__slug"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
