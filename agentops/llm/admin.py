from django.contrib import admin

from agentops.admin import ConfigAdminMixin, TenantScopedAdminMixin
from agentops.audit.admin import AuditedAdminMixin

from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(AuditedAdminMixin, ConfigAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Prices are read by runs through agentops.config_cache: a change invalidates it. They are the
    platform's, the same for every tenant: a tenant's staff may read them, and a change is audited
    in every tenant's chain. A price is versioned: a new price is a new row from its date (end the
    old one there); a correction of a past price is followed by `manage.py costs recompute`."""

    tenant_field = None

    list_display = ["model", "effective_from", "effective_to", "prompt_tokens_above", "input_per_mtok",
                    "cached_input_per_mtok", "output_per_mtok", "local", "updated_at"]
    list_filter = ["local"]
    search_fields = ["model"]
    readonly_fields = ["updated_at"]
