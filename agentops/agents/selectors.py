from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, Q
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission, UserObjectPermission

from agentops.tenancy.models import Tenant

from .models import Agent

START_AGENT = "start_agent"


def agent_list(*, tenant: Tenant):
    return Agent.objects.filter(tenant=tenant).select_related("current_version").order_by("slug")


def agent_start_grants(model, agent: Agent):
    """The `start_agent` grants on `agent`: of users (model UserObjectPermission) or groups."""
    return model.objects.filter(content_type=ContentType.objects.get_for_model(Agent), object_pk=str(agent.pk),
                                permission__codename=START_AGENT)


def agent_list_startable(*, tenant: Tenant, user):
    """The agents of `tenant` that `user` may start (see `user_may_start_agent`), in one query."""
    content_type = ContentType.objects.get_for_model(Agent)
    grants = {"content_type": content_type, "object_pk": Cast(OuterRef("pk"), CharField()),
              "permission__codename": START_AGENT}
    granted = (Exists(UserObjectPermission.objects.filter(user=user, **grants))
               | Exists(GroupObjectPermission.objects.filter(group__user=user, group__tenant_link__tenant=tenant,
                                                             **grants)))
    return agent_list(tenant=tenant).filter(Q(restricted=False) | granted)


def user_may_start_agent(*, user, agent: Agent) -> bool:
    """Whether `user` may start runs of `agent`, as far as the agent's access goes (their role's
    `run_agents` is the caller's to check): any active user of an open agent; of a restricted one,
    a member of its tenant granted `agents.start_agent` on it, directly or through one of the
    tenant's groups (a group of another tenant, or of the platform, grants nothing here)."""
    if not agent.restricted:
        return True
    if user is None or not user.is_active:
        return False
    direct = agent_start_grants(UserObjectPermission, agent).filter(
        user=user, user__memberships__tenant_id=agent.tenant_id)
    grouped = agent_start_grants(GroupObjectPermission, agent).filter(
        group__user=user, group__tenant_link__tenant_id=agent.tenant_id)
    return direct.exists() or grouped.exists()


def agent_access_get(*, agent: Agent) -> dict:
    """{"restricted", "users": [username, ...], "groups": [group name, ...]}: who may start `agent`
    when it is restricted (the grants stay while it is open, for when it is restricted again)."""
    users = agent_start_grants(UserObjectPermission, agent).values_list("user__username", flat=True)
    groups = agent_start_grants(GroupObjectPermission, agent).values_list("group__name", flat=True)
    return {"restricted": agent.restricted, "users": sorted(users), "groups": sorted(groups)}
