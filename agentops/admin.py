"""Admin pieces shared by the apps."""

from django.contrib import admin


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
