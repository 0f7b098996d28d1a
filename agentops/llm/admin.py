from django.contrib import admin

from agentops.admin import ConfigAdminMixin, TenantScopedAdminMixin
from agentops.audit.admin import AuditedAdminMixin

from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(AuditedAdminMixin, ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Prices are read by runs through agentops.config_cache: a change invalidates it. They are the
    platform's, the same for every tenant: a tenant's staff may read them, and a change is audited
    in every tenant's chain."""

    tenant_field = None

    list_display = ["model", "input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "updated_at"]
    search_fields = ["model"]
    readonly_fields = ["updated_at"]
