"""Admin pieces shared by the apps: tenant scoping, read-only records, cache invalidation."""

import functools

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import Model, Q, QuerySet

from agentops import config_cache


def member_roles(request) -> dict:
    """{tenant id: Membership} of the signed-in user, read once per request."""
    if not request.user.is_authenticated:
        return {}  # the admin's own login page asks what to list, too
    if not hasattr(request, "_admin_memberships"):
        # Through the user's relation, not an import: tenancy's own admin imports this module.
        request._admin_memberships = {m.tenant_id: m for m in request.user.memberships.all()}
    return request._admin_memberships


def tenants_granting(request, permission: str) -> set:
    """Ids of the tenants where the signed-in user's role grants `permission`."""
    return {tenant_id for tenant_id, membership in member_roles(request).items() if membership.grants(permission)}


class TenantScopedAdminMixin:
    """The admin of a tenant's rows, for platform admins and for the tenant's own staff.

    Superusers are platform admins: Django's rules apply to them unchanged. Any other staff user
    sees only the rows of the tenants they are a member of, and what they may do there is what
    their role grants (agentops/tenancy/roles.py), tenant by tenant, not Django's model
    permissions: those are global, so a group granting "change agent" would apply in every tenant
    of a user who is an owner in one and a viewer in another, and would have to be kept in step
    with every role change. The role is already the one rule the pages and the API follow.

    Configure per admin:
      tenant_field        the path from the model to its tenant ("tenant", "agent__tenant";
                          "pk" for the Tenant itself; None for a platform-wide model)
      global_rows         rows with no tenant are the platform's: tenant staff may view them only
      view_permission     the role permission needed to see the rows
      manage_permission   the role permission needed to add, change and delete them (None: view only)

    Put it right before the ModelAdmin base, after mixins that forbid more (ReadOnlyAdminMixin):
    those answer first, and this one answers only what they leave to Django.
    """

    tenant_field: str | None = "tenant"
    global_rows = False
    view_permission = "view"
    manage_permission: str | None = None

    # Which rows ------------------------------------------------------------------------------

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return self.scope_queryset(queryset, tenants_granting(request, self.view_permission))

    def scope_queryset(self, queryset, tenant_ids):
        """`queryset` narrowed to the rows of `tenant_ids` (and the global rows, where there are some)."""
        if self.tenant_field is None:
            return queryset if tenant_ids else queryset.none()
        scope = Q(**{f"{self.tenant_field}__in": tenant_ids})
        if self.global_rows:
            scope |= Q(**{f"{self.tenant_field}__isnull": True})
        if "__" in self.tenant_field:  # a path through a to-many relation would repeat rows
            return queryset.filter(pk__in=self.model._default_manager.filter(scope).values("pk"))
        return queryset.filter(scope)

    def get_list_filter(self, request):
        # A filter on a relation lists every row of the related model (every tenant, say): offer
        # only those the user's rows point to.
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [(name, admin.RelatedOnlyFieldListFilter) if isinstance(name, str) and _is_relation(self.model, name)
                else name for name in filters]

    def object_tenant_ids(self, obj) -> set:
        """The tenants `obj` belongs to: none for a global row or a platform-wide model."""
        if self.tenant_field is None:
            return set()
        if self.tenant_field == "pk":
            return {obj.pk}
        *path, last = self.tenant_field.split("__")
        owner = functools.reduce(getattr, path, obj)
        tenant_id = getattr(owner, f"{last}_id")
        return set() if tenant_id is None else {tenant_id}

    # What the user may do --------------------------------------------------------------------

    def has_module_permission(self, request):
        if request.user.is_superuser:
            return super().has_module_permission(request)
        return bool(tenants_granting(request, self.view_permission))

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return self._role_allows(request, self.view_permission, obj, any_tenant=True) or (
            self.has_change_permission(request, obj))

    def has_add_permission(self, request, *args):
        if request.user.is_superuser:
            return super().has_add_permission(request, *args)
        return self.manage_permission is not None and bool(tenants_granting(request, self.manage_permission))

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self.manage_permission is not None and self._role_allows(request, self.manage_permission, obj)

    def has_delete_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self.has_change_permission(request, obj)

    def _role_allows(self, request, permission, obj, any_tenant=False) -> bool:
        """Without `obj`: whether the role grants `permission` in some tenant. With it: in every
        tenant the object belongs to (`any_tenant`: in one of them). A global row is viewable by
        any member, never changed by one."""
        granted = tenants_granting(request, permission)
        if obj is None:
            return bool(granted)
        owners = self.object_tenant_ids(obj)
        if not owners:
            return any_tenant and bool(granted) and (self.global_rows or self.tenant_field is None)
        return bool(owners & granted) if any_tenant else owners <= granted

    # What the forms offer --------------------------------------------------------------------

    def managed_tenant_ids(self, request) -> set:
        return tenants_granting(request, self.manage_permission) if self.manage_permission else set()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if request.user.is_superuser or self.tenant_field != "tenant":
            return form
        return type(form.__name__, (OneTenantFormMixin, form), {"admin_site": self.admin_site})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            choices = self._scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
            if db_field.name == self.tenant_field:  # a tenant's staff never add a global row
                kwargs.update(required=True, empty_label=None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            choices = self._scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scoped_choices(self, model, request):
        """The rows of `model` in the tenants where the user manages this admin's rows, as that
        model's own admin scopes them; None for a model that is no tenant's (left to Django)."""
        related_admin = scoped_admin(self.admin_site, model)
        if related_admin is None or related_admin.tenant_field is None:
            return None
        return related_admin.scope_queryset(model._default_manager.all(), self.managed_tenant_ids(request))


class OneTenantFormMixin:
    """Refuses a related row (a group, a user) of another tenant than the object's. The choices
    offer the rows of every tenant the user manages, so a member of two tenants could otherwise
    give one tenant's tool the other's approver group."""

    admin_site: admin.AdminSite

    def clean(self):
        data = super().clean()
        tenant_id = data["tenant"].pk if data.get("tenant") else self.instance.tenant_id
        for name, value in list(data.items()):  # add_error() takes the field out of `data`
            if name != "tenant" and tenant_id is not None:
                for row in self._rows_of_other_tenants(value, tenant_id):
                    self.add_error(name, f"{row} belongs to another tenant.")
        return data

    def _rows_of_other_tenants(self, value, tenant_id) -> list:
        rows = list(value) if isinstance(value, (list, tuple, QuerySet)) else [value]
        return [row for row in rows if isinstance(row, Model) and self._owned_elsewhere(row, tenant_id)]

    def _owned_elsewhere(self, row, tenant_id) -> bool:
        row_admin = scoped_admin(self.admin_site, type(row))
        owners = row_admin.object_tenant_ids(row) if row_admin else set()
        return bool(owners) and tenant_id not in owners


class TenantScopedInlineMixin:
    """An inline on a TenantScopedAdminMixin page, read-only for a tenant's staff: its rows are the
    parent's (Django filters them by it), so whoever may see the parent sees them."""

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return True


def scoped_admin(site: admin.AdminSite, model) -> TenantScopedAdminMixin | None:
    """The admin that knows which tenants `model`'s rows belong to, if it has one."""
    model_admin = site.get_model_admin(model) if site.is_registered(model) else None
    return model_admin if isinstance(model_admin, TenantScopedAdminMixin) else None


def _is_relation(model, path: str) -> bool:
    return get_fields_from_path(model, path)[-1].is_relation


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
