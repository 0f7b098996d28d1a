from agentops.tenancy.models import Tenant

from .models import Agent


def agent_list(*, tenant: Tenant):
    return Agent.objects.filter(tenant=tenant).select_related("current_version").order_by("slug")
