from django.contrib import admin

from agentops.admin import ConfigAdminMixin

from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(ConfigAdminMixin, admin.ModelAdmin):
    """Prices are read by runs through agentops.config_cache: a change invalidates it."""

    list_display = ["model", "input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "updated_at"]
    search_fields = ["model"]
    readonly_fields = ["updated_at"]
