"""Creating agents and their versions; each one transaction, each audited.

Runs read an agent and its version through agentops.config_cache: a change invalidates it when
it commits (a new agent through its first version)."""

from __future__ import annotations

import re

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Max
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm

from agentops import config_cache
from agentops.audit.services import Actor, audit_diff, audit_record
from agentops.tenancy.models import Membership, Tenant, TenantGroup

from .errors import AgentDrainRefused, AgentInvalid
from .models import MAX_CHILD_DEPTH, Agent, AgentVersion
from .selectors import agent_access_get, agent_start_grants
from .validation import memory_errors

START_PERMISSION = "agents.start_agent"
WORKFLOW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def agent_create(*, tenant: Tenant, slug: str, name: str, description: str = "", config: dict, actor: Actor,
                 user=None) -> Agent:
    with transaction.atomic():
        agent = Agent.objects.create(tenant=tenant, slug=slug, name=name, description=description)
        audit_record(tenant=tenant, action="agent.created", actor=actor, target=agent,
                     data={"slug": slug, "name": name})
        agent_version_create(agent=agent, config=config, actor=actor, user=user)
        agent.refresh_from_db()
        return agent


# What may change on an agent without a new version: its budgets bound spend, not behaviour.
AGENT_SETTINGS = ("name", "description", "daily_cost_limit", "monthly_cost_limit")


def agent_update(*, agent: Agent, actor: Actor, **settings) -> Agent:
    """Change some of AGENT_SETTINGS, audited (`agent.changed`) with what actually changed."""
    unknown = set(settings) - set(AGENT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown agent settings: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        # The stored values, not `agent`'s: a ModelForm has already put the new ones on the instance.
        stored = Agent.objects.select_for_update().get(pk=agent.pk)
        changes = audit_diff({name: getattr(stored, name) for name in settings}, settings)
        if changes:
            Agent.objects.filter(pk=agent.pk).update(**{name: settings[name] for name in changes})
            audit_record(tenant=agent.tenant, action="agent.changed", actor=actor, target=agent, changes=changes)
            config_cache.invalidate()
        agent.refresh_from_db()
        return agent


def agent_version_drain(*, agent: Agent, number: int, actor: Actor, drained: bool = True) -> AgentVersion:
    """Drain version `number` (new runs may not pin it) or, with `drained=False`, undrain it;
    audited as `agent.version_drained` / `agent.version_undrained`. The agent's current version
    cannot be drained: new runs start on it. Raises AgentDrainRefused."""
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        version = AgentVersion.objects.filter(agent=locked, number=number).first()
        if version is None:
            raise AgentDrainRefused("unknown_version", f"agent {agent.slug!r} has no version {number}")
        if drained and version.pk == locked.current_version_id:
            raise AgentDrainRefused("current_version", f"version {number} is {agent.slug}'s current version: new runs "
                                                       "start on it, so it cannot be drained. Make a newer version "
                                                       "current first (change the agent), then drain this one.")
        if version.drained != drained:
            AgentVersion.objects.filter(pk=version.pk).update(drained=drained)
            audit_record(tenant=locked.tenant, action=f"agent.version_{'drained' if drained else 'undrained'}",
                         actor=actor, target=locked, data={"agent": agent.slug, "version": number})
            config_cache.invalidate()
        version.drained = drained
        return version


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
    errors = {**child_rule_errors(config), **(memory_errors(tenant=agent.tenant, config=config)
                                                 if "memory" in config else {})}
    if errors:
        raise AgentInvalid(errors)
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


def child_rule_errors(config: dict) -> dict[str, list[str]]:
    """{field: [message]} for the child-run rules of a version's `config` (those it sets)."""
    errors = {}
    workflows = config.get("child_workflows", [])
    if not isinstance(workflows, list) or not all(isinstance(w, str) and WORKFLOW_NAME.match(w) for w in workflows):
        errors["child_workflows"] = ['A list of workflow names, e.g. ["agent_loop"]; empty for any workflow.']
    depth = config.get("max_child_depth", 0)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_CHILD_DEPTH:
        errors["max_child_depth"] = [f"A whole number from 0 (no child runs) to {MAX_CHILD_DEPTH}."]
    return errors


def agent_access_set(*, agent: Agent, restricted: bool, users, groups, actor: Actor) -> dict:
    """Make `users` and `groups` (the agent's tenant's members and groups) those who may start
    `agent`, and restrict it to them or open it to every member whose role runs agents.

    Returns the access as `agent_access_get` reads it. Raises AgentInvalid naming users who are not
    members and groups that are not the tenant's. Locks the agent row; one transaction; audited as
    `agent.access_changed` with the before/after when it changed.
    """
    users, groups = list(users), list(groups)
    _check_access(agent, users, groups)
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        before = agent_access_get(agent=locked)
        _replace_grants(locked, users, groups)
        if locked.restricted != restricted:
            Agent.objects.filter(pk=locked.pk).update(restricted=restricted)
            locked.restricted = restricted
        after = agent_access_get(agent=locked)
        if after != before:
            audit_record(tenant=locked.tenant, action="agent.access_changed", actor=actor, target=locked,
                         changes=audit_diff(before, after))
            config_cache.invalidate()
    agent.restricted = restricted
    return after


def _check_access(agent: Agent, users: list, groups: list[Group]) -> None:
    members = set(Membership.objects.filter(tenant_id=agent.tenant_id, user__in=users)
                  .values_list("user_id", flat=True))
    ours = set(TenantGroup.objects.filter(tenant_id=agent.tenant_id, group__in=groups)
               .values_list("group_id", flat=True))
    errors = {}
    strangers = sorted(user.get_username() for user in users if user.pk not in members)
    if strangers:
        errors["users"] = [f"Not members of {agent.tenant.slug}: {', '.join(strangers)}."]
    foreign = sorted(group.name for group in groups if group.pk not in ours)
    if foreign:
        errors["groups"] = [f"Not groups of {agent.tenant.slug}: {', '.join(foreign)}."]
    if errors:
        raise AgentInvalid(errors)


def _replace_grants(agent: Agent, users: list, groups: list[Group]) -> None:
    for model, field, holders in ((UserObjectPermission, "user", users), (GroupObjectPermission, "group", groups)):
        grants = agent_start_grants(model, agent)
        grants.exclude(**{f"{field}__in": holders}).delete()
        granted = set(grants.values_list(f"{field}_id", flat=True))
        for holder in holders:
            if holder.pk not in granted:
                assign_perm(START_PERMISSION, holder, agent)
