from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group
from django.db import transaction
from guardian.admin import GuardedModelAdmin

from agentops.admin import ConfigAdminMixin, TenantScopedAdminMixin, TenantScopedInlineMixin
from agentops.audit.admin import REDACTED, AuditedAdminMixin
from agentops.audit.services import Actor

from .models import ApiKey, ApiKeyScope, Membership, Tenant, TenantGroup
from .roles import Role
from .services import (
    TENANT_SETTINGS,
    TenancyError,
    api_key_create,
    attributes_errors,
    api_key_revoke,
    membership_remove,
    membership_set,
    tenant_create,
    tenant_update,
)


class MembershipInline(TenantScopedInlineMixin, admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # through the Membership admin, so the change is audited


@admin.register(Tenant)
class TenantAdmin(ConfigAdminMixin, TenantScopedAdminMixin, GuardedModelAdmin):
    """A tenant's staff see their own tenants here, read-only; platform admins manage them all."""

    tenant_field = "pk"
    list_display = ["slug", "name", "daily_cost_limit", "monthly_cost_limit", "budget_policy", "allow_self_approval",
                    "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        if change:
            tenant_update(tenant=obj, actor=actor, **{name: form.cleaned_data[name] for name in TENANT_SETTINGS})
        else:
            settings = {name: form.cleaned_data[name] for name in TENANT_SETTINGS if name != "name"}
            created = tenant_create(name=obj.name, slug=obj.slug, actor=actor, **settings)
            obj.pk = created.pk


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = "__all__"

    def clean_attributes(self):
        attributes = self.cleaned_data["attributes"]
        problems = attributes_errors(attributes)
        if problems:
            raise forms.ValidationError(problems)
        return attributes


@admin.register(Membership)
class MembershipAdmin(ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Members' roles, and the attributes tool rules read (user.attributes.customer_id)."""

    manage_permission = "manage_members"
    form = MembershipAdminForm
    list_display = ["user", "tenant", "role", "attributes", "created_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["user__username", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        saved = membership_set(tenant=obj.tenant, user=obj.user, role=obj.role, attributes=obj.attributes,
                               actor=Actor.for_user(request.user))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        membership_remove(membership=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


class ApiKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["tenant", "user", "name", "scopes"]

    def clean(self):
        # Refuse here rather than in save_model, where the admin would still report "added".
        data = super().clean()
        tenant, user = data.get("tenant"), data.get("user")
        if tenant and user and not Membership.objects.filter(tenant=tenant, user=user).exists():
            self.add_error("user", f"{user.get_username()} is not a member of {tenant.slug}.")
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    view_permission = manage_permission = "manage_api_keys"
    form = ApiKeyAdminForm
    list_display = ["name", "prefix", "tenant", "user", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant", "revoked_at"]
    search_fields = ["name", "prefix"]
    list_select_related = ["tenant", "user"]
    raw_id_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ["tenant", "user", "name", "scopes", "prefix", "created_at", "last_used_at", "revoked_at"]
        return []

    def save_model(self, request, obj, form, change):
        if change:
            return  # keys are immutable; revoke and create a new one
        try:
            key, raw = api_key_create(
                tenant=obj.tenant, user=obj.user, name=obj.name, scopes=form.cleaned_data["scopes"],
                actor=Actor.for_user(request.user),
            )
        except TenancyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk, obj.prefix = key.pk, key.prefix
        self.message_user(request, f"Copy the key now; it will not be shown again: {raw}", messages.WARNING)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=key, actor=Actor.for_user(request.user))
        self.message_user(request, "Revoked.")

    def has_delete_permission(self, request, obj=None):
        return False


# Whether a user is active (or a superuser), and the groups whose object permissions they hold,
# decide what a run acting for them may do: Django's user and group pages, invalidating too.
admin.site.unregister(get_user_model())
admin.site.unregister(Group)

# What only a platform admin may change on a user: the platform-wide powers.
PLATFORM_USER_FIELDS = ["is_staff", "is_superuser", "user_permissions"]


@admin.register(get_user_model())
class UserAdmin(AuditedAdminMixin, ConfigAdminMixin, TenantScopedAdminMixin, auth_admin.UserAdmin):
    """A tenant's staff see the members of their tenants and, where their role manages members in
    every tenant a user belongs to, change them: never a superuser, never staff or superuser status
    or model permissions, and only the groups of their tenants (the others a user is in stay).
    A user they add joins the tenant they choose, with the role they choose."""

    tenant_field = "memberships__tenant"
    manage_permission = "manage_members"

    def object_tenant_ids(self, obj) -> set:
        return set(obj.memberships.values_list("tenant_id", flat=True))

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "last_login", "date_joined"]
        return readonly if request.user.is_superuser else readonly + PLATFORM_USER_FIELDS

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and not request.user.is_superuser:
            tenants = Tenant.objects.filter(pk__in=self.managed_tenant_ids(request))
            kwargs["form"] = type("MemberCreationForm", (self.add_form,), {
                "tenant": forms.ModelChoiceField(tenants, empty_label=None, help_text="The tenant the user joins."),
                "role": forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER),
            })
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and not request.user.is_superuser:
            return [*fieldsets, ("Membership", {"fields": ["tenant", "role"]})]
        return fieldsets

    def save_form(self, request, form, change):
        # The groups field offers only the groups of the user's own tenants; keep the others.
        if change and not request.user.is_superuser and "groups" in form.cleaned_data:
            hidden = form.instance.groups.exclude(pk__in=form.fields["groups"].queryset)
            form.cleaned_data["groups"] = [*form.cleaned_data["groups"], *hidden]
        return super().save_form(request, form, change)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "tenant" in form.cleaned_data:
            membership_set(tenant=form.cleaned_data["tenant"], user=obj, role=form.cleaned_data["role"],
                           actor=Actor.for_user(request.user))

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None and type(user).objects.filter(pk=user.pk).exclude(password=before).exists():
                self.record_admin_event(request, user, "admin.change",
                                        changes={"password": [REDACTED, REDACTED]})
        return response


class GroupAdminForm(forms.ModelForm):
    tenant = forms.ModelChoiceField(
        Tenant.objects.all(), required=False,
        help_text="The tenant whose group this is (its staff see and assign only its groups); empty: the platform's.",
    )

    class Meta:
        model = Group
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tenant"] = TenantGroup.objects.filter(group=self.instance).values_list(
                "tenant", flat=True).first()


@admin.register(Group)
class GroupAdmin(AuditedAdminMixin, ConfigAdminMixin, TenantScopedAdminMixin, auth_admin.GroupAdmin):
    """A tenant's staff see their tenants' groups and, where they manage members, add and change
    them, without model permissions (a platform admin's business). Members join a group on the
    user's page."""

    form = GroupAdminForm
    tenant_field = "tenant_link__tenant"
    manage_permission = "manage_members"

    def object_tenant_ids(self, obj) -> set:
        return set(TenantGroup.objects.filter(group=obj).values_list("tenant_id", flat=True))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else readonly + ["permissions"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not request.user.is_superuser:  # a new field: the declared one is shared by every request
            form.base_fields["tenant"] = forms.ModelChoiceField(
                Tenant.objects.filter(pk__in=self.managed_tenant_ids(request)), empty_label=None,
                disabled=obj is not None, help_text=form.base_fields["tenant"].help_text)
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        tenant = form.cleaned_data.get("tenant")
        if tenant is None:
            TenantGroup.objects.filter(group=obj).delete()
        else:
            TenantGroup.objects.update_or_create(group=obj, defaults={"tenant": tenant})
