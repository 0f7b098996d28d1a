"""The tenant, people and agents the benchmark runs with (created in each fresh database)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from agentops.agents.models import Agent, AgentVersion
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from runs.models import Run

TOOL = "bench.echo"
TOOL_WIRE = "bench__echo"


@dataclass
class World:
    tenant: Tenant
    requester: Principal  # starts runs (operator: may use tools)
    approver: Principal  # decides approvals (owner); not the requester, so no self-approval


def world() -> World:
    tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Benchmark"})
    principals = []
    for username, role in (("bench-requester", Role.OPERATOR), ("bench-approver", Role.OWNER)):
        user, _ = get_user_model().objects.get_or_create(username=username)
        membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
        principals.append(Principal(tenant=tenant, user=user, membership=membership))
    return World(tenant, *principals)


def agent(w: World, slug: str, *, workflow: str, **version) -> Agent:
    """An agent whose current version runs `workflow`; `version` sets AgentVersion fields."""
    obj, created = Agent.objects.get_or_create(tenant=w.tenant, slug=slug, defaults={"name": slug})
    if created or obj.current_version is None:
        config = {"provider": "scripted", "model": "bench-model", "max_steps": 100_000,
                  "timeout_seconds": 3600, **version, "workflow": workflow}
        v = AgentVersion.objects.create(agent=obj, number=1, **config)
        Agent.objects.filter(pk=obj.pk).update(current_version=v)
        obj.current_version = v
    return obj


def new_run(w: World, a: Agent, input: dict) -> Run:
    """A queued run created with the ORM (one INSERT, nothing enqueued): for in-process execution."""
    return Run.objects.create(tenant=w.tenant, agent=a, agent_version=a.current_version,
                              workflow=a.current_version.workflow, input=input,
                              created_by=w.requester.user)


def loop_script(tool_calls: int, *, calls_per_response: int = 1, text: str = "bench") -> list[dict]:
    """Scripted model responses for `agent_loop`: `tool_calls` calls of bench.echo, grouped
    `calls_per_response` to a response, then a final answer."""
    responses, made = [], 0
    while made < tool_calls:
        n = min(calls_per_response, tool_calls - made)
        responses.append({
            "content": None,
            "tool_calls": [{"name": TOOL_WIRE, "arguments": {"text": f"{text} {made + i}"}} for i in range(n)],
            "usage": {"input_tokens": 120, "output_tokens": 18},
        })
        made += n
    responses.append({"content": "done", "usage": {"input_tokens": 150, "output_tokens": 5}})
    return responses
