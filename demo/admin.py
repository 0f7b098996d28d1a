"""Admin pages for the demo tables; tickets and refunds are written by the tools, so read-only.
The tables are what the demo tools read: a tenant's staff change them where they manage tools."""

from django.contrib import admin

from agentops.admin import TenantScopedAdminMixin
from agentops.audit.admin import AuditedAdminMixin

from .models import DemoArticle, DemoCustomer, DemoOrder, DemoRefund, DemoTicket


class DemoDataAdmin(AuditedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    manage_permission = "manage_tools"
    # Not Django's default, which joins every foreign key the list shows: the tenant is in
    # another database. A list names the demo tables it joins.
    list_select_related = ()


@admin.register(DemoArticle)
class DemoArticleAdmin(DemoDataAdmin):
    list_display = ["title", "slug", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["title", "body", "tags"]


@admin.register(DemoCustomer)
class DemoCustomerAdmin(DemoDataAdmin):
    list_display = ["customer_id", "name", "email", "plan", "tenant"]
    list_filter = ["tenant", "plan"]
    search_fields = ["customer_id", "name", "email"]


@admin.register(DemoOrder)
class DemoOrderAdmin(DemoDataAdmin):
    list_display = ["order_id", "customer", "status", "amount", "refunded_amount", "placed_at", "tenant"]
    list_filter = ["tenant", "status"]
    search_fields = ["order_id", "customer__email"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


class ReadOnlyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_select_related = ()
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DemoTicket)
class DemoTicketAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "subject", "priority", "status", "customer_email", "created_by", "created_at", "tenant"]
    list_filter = ["tenant", "priority", "status"]


@admin.register(DemoRefund)
class DemoRefundAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "order", "amount", "reason", "idempotency_key", "created_at", "tenant"]
    list_filter = ["tenant"]
    list_select_related = ["order"]
