from django import forms
from django.contrib import admin
from django.forms.models import fields_for_model

from agentops.admin import ConfigAdminMixin, TenantScopedAdminMixin, TenantScopedInlineMixin
from agentops.audit.services import Actor

from .models import Agent, AgentVersion
from .services import agent_create, agent_update, agent_version_create
from .validation import agent_config_errors


class AgentAdminForm(forms.ModelForm):
    """The agent's fields plus its current version's settings; saving changed settings makes a new version."""

    class Meta:
        model = Agent
        fields = ["tenant", "slug", "name", "description"]

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

    def clean(self):
        cleaned = super().clean()
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
    list_display = ["slug", "name", "tenant", "current_version", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["slug", "name"]
    list_select_related = ["tenant", "current_version"]
    inlines = [AgentVersionInline]
    fieldsets = [
        (None, {"fields": ["tenant", "slug", "name", "description"]}),
        ("Current version (saving a change creates a new version)", {"fields": list(AgentVersion.CONFIG_FIELDS)}),
    ]

    def get_form(self, request, obj=None, **kwargs):
        # The fieldsets name the version's settings, which are not Agent fields: the form adds them
        # itself, so build the ModelForm from the agent's own fields only.
        kwargs["fields"] = AgentAdminForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        data = form.cleaned_data
        if change:
            agent_update(agent=obj, name=data["name"], description=data["description"], actor=actor)
            agent_version_create(agent=obj, config=form.version_config(), actor=actor, user=request.user)
        else:
            created = agent_create(
                tenant=data["tenant"], slug=data["slug"], name=data["name"], description=data["description"],
                config=form.version_config(), actor=actor, user=request.user,
            )
            obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # versions are created by the service, never edited inline

    def construct_change_message(self, request, form, formsets, add=False):
        # The version inline is display-only and never saved, so it has no changes to describe.
        return super().construct_change_message(request, form, [], add)


@admin.register(AgentVersion)
class AgentVersionAdmin(ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_field = "agent__tenant"
    list_display = ["agent", "number", "model", "provider", "workflow", "created_by", "created_at"]
    list_filter = ["agent__tenant", "provider", "workflow"]
    list_select_related = ["agent", "created_by"]
    search_fields = ["agent__slug"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
