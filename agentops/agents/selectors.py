from agentops.tenancy.models import Tenant

from .models import Agent


def agent_list(*, tenant: Tenant):
    return Agent.objects.filter(tenant=tenant).select_related("current_version").order_by("slug")


def agent_get(*, tenant: Tenant, slug: str) -> Agent | None:
    return agent_list(tenant=tenant).filter(slug=slug).first()
