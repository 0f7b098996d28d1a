from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from guardian.admin import GuardedModelAdmin

from agentops.admin import ConfigAdminMixin
from agentops.audit.services import Actor

from .models import ApiKey, ApiKeyScope, Membership, Tenant
from .services import (
    TENANT_SETTINGS,
    TenancyError,
    api_key_create,
    api_key_revoke,
    membership_remove,
    membership_set,
    tenant_create,
    tenant_update,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # through the Membership admin, so the change is audited


@admin.register(Tenant)
class TenantAdmin(ConfigAdminMixin, GuardedModelAdmin):
    list_display = ["slug", "name", "daily_cost_limit", "allow_self_approval", "created_at"]
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


@admin.register(Membership)
class MembershipAdmin(ConfigAdminMixin, admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["user__username", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        saved = membership_set(tenant=obj.tenant, user=obj.user, role=obj.role, actor=Actor.for_user(request.user))
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
class ApiKeyAdmin(admin.ModelAdmin):
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


@admin.register(get_user_model())
class UserAdmin(ConfigAdminMixin, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(ConfigAdminMixin, auth_admin.GroupAdmin):
    pass
