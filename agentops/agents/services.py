"""Creating agents and their versions; each one transaction, each audited.

Runs read an agent and its version through agentops.config_cache: a change invalidates it when
it commits (a new agent through its first version)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from agentops import config_cache
from agentops.audit.services import Actor, audit_diff, audit_record
from agentops.tenancy.models import Tenant

from .models import Agent, AgentVersion


def agent_create(*, tenant: Tenant, slug: str, name: str, description: str = "", config: dict, actor: Actor,
                 user=None) -> Agent:
    with transaction.atomic():
        agent = Agent.objects.create(tenant=tenant, slug=slug, name=name, description=description)
        audit_record(tenant=tenant, action="agent.created", actor=actor, target=agent,
                     data={"slug": slug, "name": name})
        agent_version_create(agent=agent, config=config, actor=actor, user=user)
        agent.refresh_from_db()
        return agent


def agent_update(*, agent: Agent, name: str, description: str, actor: Actor) -> Agent:
    with transaction.atomic():
        # The stored values, not `agent`'s: a ModelForm has already put the new ones on the instance.
        stored = Agent.objects.select_for_update().get(pk=agent.pk)
        before = {"name": stored.name, "description": stored.description}
        Agent.objects.filter(pk=agent.pk).update(name=name, description=description)
        changes = audit_diff(before, {"name": name, "description": description})
        if changes:
            audit_record(tenant=agent.tenant, action="agent.changed", actor=actor, target=agent, changes=changes)
            config_cache.invalidate()
        agent.refresh_from_db()
        return agent


def agent_version_create(*, agent: Agent, config: dict, actor: Actor, user=None) -> AgentVersion:
    """Make a new current version from `config`, unless it equals the current one.

    Returns the (possibly unchanged) current version. Locks the agent row so two editors get
    consecutive numbers instead of a unique-constraint error.
    """
    unknown = set(config) - set(AgentVersion.CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"unknown agent settings: {', '.join(sorted(unknown))}")
    # Compare values as the model holds them: max_cost 0.5 equals the stored 0.500000, max_steps "20" equals 20.
    config = {name: AgentVersion._meta.get_field(name).to_python(value) for name, value in config.items()}
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        current = locked.current_version
        before = current.config() if current else {}
        merged = {**before, **config}
        if current and merged == before:
            return current
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = AgentVersion.objects.create(agent=locked, number=number, created_by=user, **merged)
        Agent.objects.filter(pk=locked.pk).update(current_version=version)
        config_cache.invalidate()
        after = version.config()
        changed = [name for name in AgentVersion.CONFIG_FIELDS if before.get(name) != after[name]]
        audit_record(
            tenant=locked.tenant, action="agent.version_created", actor=actor, target=version,
            data={"number": number},
            changes=audit_diff({n: before.get(n) for n in changed}, {n: after[n] for n in changed}),
        )
        agent.current_version = version
        return version
