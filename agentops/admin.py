"""Admin pieces shared by the apps."""

import functools

from django.contrib import admin

from agentops import config_cache


class ReadOnlyAdminMixin:
    """For records only the system writes (audit events, runs, decisions): viewable, never edited
    by hand. Works on model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class ConfigAdminMixin:
    """For the admin of a model that agentops.config_cache holds, or that decides what it holds
    (tenants, members, agents, prices, users, groups, tools): whatever the page writes invalidates
    the cache when its transaction commits — saves, deletes (one or a selection), inlines and
    many-to-many fields, and on a guardian admin the object permissions granted on the object.

    A method the admin defines itself overrides the one here: such a method calls a service,
    which invalidates the cache itself.
    """

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        config_cache.invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        config_cache.invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        config_cache.invalidate()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        config_cache.invalidate()

    # guardian.admin.GuardedModelAdmin's "Object permissions" pages save through these forms.
    def get_obj_perms_manage_user_form(self, request):
        return _invalidating(super().get_obj_perms_manage_user_form(request))

    def get_obj_perms_manage_group_form(self, request):
        return _invalidating(super().get_obj_perms_manage_group_form(request))


@functools.cache
def _invalidating(form_class: type) -> type:
    """`form_class` (a guardian object-permissions form) whose save also invalidates the cache."""

    def save_obj_perms(self):
        form_class.save_obj_perms(self)
        config_cache.invalidate()

    return type(f"Invalidating{form_class.__name__}", (form_class,), {"save_obj_perms": save_obj_perms})
