"""The audit log's admin page, and the mixin that audits what other admin pages change."""

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction

from agentops.admin import ReadOnlyModelAdmin, TenantScopedAdminMixin

from .models import AuditEvent
from .services import Actor, audit_diff, audit_record_concerned

REDACTED = "[redacted]"


class AuditedAdminMixin:
    """Records every add, change and delete made on the page as an `admin.add`, `admin.change` or
    `admin.delete` event, in the change's transaction, acting as the signed-in user. For admins whose
    writes do not go through an auditing service (users, groups, prices, webhooks, demo data).

    `changes` holds {field: [before, after]} of the fields the form changed, many-to-many fields
    (a user's groups, a group's permissions) included, as ids; `admin.delete` holds the deleted
    row's fields in `data`. Fields in `audit_redacted` (password hashes, secret references) show
    only that they changed. An event goes to the chain of each tenant the object belongs to;
    an object of no tenant (a global price, a platform user or group) concerns every tenant and
    goes to every chain, as a global tool's changes do (tools/services.py).

    Needs TenantScopedAdminMixin (for `object_tenant_ids`) further along the bases.
    """

    audit_redacted: tuple = ("password",)

    def save_related(self, request, form, formsets, change):
        # After the model and its many-to-many fields are saved: the form's initial values are
        # what the object was. Django's admin calls this inside the change's transaction.
        super().save_related(request, form, formsets, change)
        obj, names = form.instance, self._audited_fields(form, change)
        stored = [name for name in names if not obj._meta.get_field(name).many_to_many]
        if stored:
            obj.refresh_from_db(fields=stored)  # as the database keeps them (a Decimal's places, say)
        before = {name: _plain(form.initial.get(name)) for name in names} if change else {}
        after = {name: self._field_value(obj, name) for name in names}
        changes = {name: self._redact(name, *values) for name, values in audit_diff(before, after).items()}
        if changes:
            self.record_admin_event(request, obj, "admin.change" if change else "admin.add", changes=changes)

    def log_deletions(self, request, queryset):
        # Django calls this before deleting, with what it is about to delete (one object or a
        # selection), so each deleted object gets its event while its tenants can still be read.
        for obj in queryset:
            fields = {field.name: self._field_value(obj, field.name) for field in obj._meta.concrete_fields}
            self.record_admin_event(request, obj, "admin.delete",
                                    data={name: self._redact(name, value)[0] for name, value in fields.items()})
        return super().log_deletions(request, queryset)

    def response_action(self, request, queryset):
        # A selection's deletion (and any other action) with its events: one transaction.
        with transaction.atomic():
            return super().response_action(request, queryset)

    def _audited_fields(self, form, change) -> list[str]:
        """The model fields the form set (on a change, those Django found changed): not read-only
        ones, not a new password's two inputs."""
        names = form.changed_data if change else form.fields
        return [name for name in names if not form.fields[name].disabled and _is_model_field(form.instance, name)]

    def _field_value(self, obj, name):
        return _plain(obj._meta.get_field(name).value_from_object(obj))

    def _redact(self, name: str, *values) -> list:
        """`values` of the field `name`, each replaced by a marker when the field is secret and it is set."""
        secret = name in self.audit_redacted
        return [REDACTED if secret and value not in (None, "") else value for value in values]

    def record_admin_event(self, request, obj, action, **payload):
        """One event per tenant concerned (see the class), acting as the signed-in user."""
        audit_record_concerned(tenant_ids=self.object_tenant_ids(obj), action=action,
                               actor=Actor.for_user(request.user), target=obj, **payload)


def _is_model_field(obj, name: str) -> bool:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return field.concrete or field.many_to_many


def _plain(value):
    """A form's or a field's value as the event stores it: rows as ids, sets of rows as sorted ids."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple, set, models.QuerySet)):
        return sorted(item.pk if isinstance(item, models.Model) else item for item in value)
    return value


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdminMixin, ReadOnlyModelAdmin):
    # Pending events (not in the chain yet) too, in the order they were written.
    list_display = ["created_at", "tenant", "chain_position", "action", "actor_type", "actor_label", "target_type",
                    "target_label"]
    # No date hierarchy and no filter listing the values of a free-text column (action, target
    # type): each reads every event of the tenant to list its values (the hierarchy through a
    # Python function per row: 400 ms at 100,000 runs' events; the DISTINCT lists ~300 ms on
    # PostgreSQL). The date filter's fixed ranges and the actor type's choices read nothing; the
    # search box finds an action, and /audit/ filters by action, actor, target and run.
    list_filter = ["tenant", "created_at", "actor_type"]
    search_fields = ["action", "actor_label", "target_label", "target_id"]
    list_select_related = ["tenant"]
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    view_permission = "view_audit"
