"""Tenants' secrets in the admin: the value is a password field, written through the services
(encrypted, audited) and never shown back. Leave it empty on change to keep the current value."""

from django import forms
from django.contrib import admin

from agentops.admin import TenantScopedAdminMixin
from agentops.audit.services import Actor

from .errors import SecretInvalid
from .models import VALUE_MAX_BYTES, TenantSecret
from .services import secret_check, secret_delete, secret_set


class TenantSecretForm(forms.ModelForm):
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False), strip=False, required=False,
        help_text=f"At most {VALUE_MAX_BYTES} bytes. Never shown again; leave empty to keep the current value.",
    )

    class Meta:
        model = TenantSecret
        fields = ["tenant", "name"]

    def clean(self):
        cleaned = super().clean()
        value = cleaned.get("value")
        if not self.instance.pk and not value:
            self.add_error("value", "A new secret needs a value.")
        elif value:
            try:
                secret_check(name=cleaned.get("name") or self.instance.name, value=value)
            except SecretInvalid as exc:
                self.add_error("value" if exc.code != "invalid_name" else None, exc.message)
        return cleaned


@admin.register(TenantSecret)
class TenantSecretAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    # A tenant's staff see names and last characters only where their role manages tools.
    view_permission = manage_permission = "manage_tools"
    form = TenantSecretForm
    list_display = ["name", "tenant", "last_four", "updated_at", "updated_by"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    list_select_related = ["tenant", "updated_by"]

    def get_fields(self, request, obj=None):
        return ["tenant", "name", "value"] + (["last_four", "created_at", "updated_at", "updated_by"] if obj else [])

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "name", "last_four", "created_at", "updated_at", "updated_by"] if obj else []

    def save_model(self, request, obj, form, change):
        value = form.cleaned_data.get("value")
        if not value:
            return  # nothing to change: the value is the only editable field
        secret, _ = secret_set(tenant=obj.tenant, name=obj.name, value=value, actor=Actor.for_user(request.user),
                               user=request.user)
        obj.pk, obj._state.adding = secret.pk, False  # the admin's log entry and redirect need the row

    def delete_model(self, request, obj):
        secret_delete(tenant=obj.tenant, name=obj.name, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        for secret in queryset.select_related("tenant"):
            self.delete_model(request, secret)
