from django.contrib import admin

from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "updated_at"]
    search_fields = ["model"]
    readonly_fields = ["updated_at"]
