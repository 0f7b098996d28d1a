"""The data set of bench/pages.py: a tenant with 100,000 runs and ~300,000 steps over 30 days,
one run of 1,000 steps, 1,000 runs waiting for an approval, an audit event per run, and the usage
counters and rollups the engine would have kept.

Written with bulk INSERTs (the engine's own journal statement for steps, the audit log's own
service for the chain), so building it takes a minute or two; bench/pages.py keeps the result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agentops.agents.models import Agent, AgentVersion
from agentops.audit.services import Actor, audit_append_all, audit_prepare
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.roles import Role
from agentops.tenancy.services import api_key_create
from approvals.models import ApprovalRequest
from runs import store
from runs.models import DailyUsage, Run, RunRollup, RunStatus, StepKind, StepStatus, WaitingReason
from runs.preview import input_preview, output_preview
from runs.rollups import rollups_rebuild

TENANT = "pages-bench"
BATCH = 2_000
DAYS = 30
MESSAGES = (
    "Where is my order #{n}?", "Please refund order #{n}, it arrived damaged.", "Cancel order #{n} please",
    "My parcel {n} is late, can you check?", "I was charged twice for order #{n}",
    "How do I return order #{n}?", "Change the address of order #{n}", "Is order #{n} eligible for a refund?",
)
TOOLS = ("orders.lookup", "billing.refund", "kb.search", "crm.fetch")
AGENTS = (("support", "gpt-4o-mini"), ("billing", "gpt-4o"), ("triage", "gpt-4o-mini"))
STATUSES = ([RunStatus.SUCCEEDED] * 85 + [RunStatus.FAILED] * 8 + [RunStatus.CANCELLED] * 3
            + [RunStatus.RUNNING, RunStatus.QUEUED])
PRICE_IN, PRICE_OUT = Decimal("0.15") / 10**6, Decimal("0.60") / 10**6


@dataclass
class Built:
    """What the measurements need to find in the data set."""

    tenant_id: int
    long_run: str
    operator_key: str
    approver_key: str


@contextlib.contextmanager
def dates_as_given(*models):
    """Let bulk inserts keep the created_at/updated_at they are given (auto_now fields otherwise
    stamp every row with the moment of the insert)."""
    fields = [f for m in models for f in m._meta.concrete_fields if getattr(f, "auto_now", False)
              or getattr(f, "auto_now_add", False)]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, now, now_add in saved:
            field.auto_now, field.auto_now_add = now, now_add


def build(*, runs: int = 100_000, seed: int = 7, log=print) -> None:
    rng = random.Random(seed)
    tenant = Tenant.objects.create(slug=TENANT, name="Pages benchmark")
    users = _people(tenant)
    agents = [_agent(tenant, slug, model) for slug, model in AGENTS]
    log(f"runs: {runs:,} over {DAYS} days")
    usage = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for first in range(0, runs, BATCH):
        _runs_batch(tenant, agents, users, rng, min(BATCH, runs - first), usage)
    log("the long run (1,000 steps) and 1,000 runs waiting for an approval")
    _long_run(tenant, agents[0], users[0])
    _waiting_for_approval(tenant, agents[1], users, rng, 1_000)
    DailyUsage.objects.bulk_create(
        DailyUsage(tenant=tenant, agent_id=agent_id, day=day, model_calls=c, tokens_in=i, tokens_out=o, cost=cost)
        for (agent_id, day), (c, i, o, cost) in usage.items())
    log("audit events, one per run")
    _audit(tenant, users[0])
    log("rollups")
    rollups_rebuild(tenant_ids=[tenant.pk])


def is_complete() -> bool:
    """Whether a kept data set was built to the end (its rollups are made last)."""
    return RunRollup.objects.filter(tenant__slug=TENANT).exists()


def handles() -> Built:
    """The data set's long run, and new API keys for its operator and approver (a raw key is
    shown only when made, so each measurement makes its own)."""
    tenant = Tenant.objects.get(slug=TENANT)
    long_run = Run.objects.filter(tenant=tenant).order_by("-step_count").values_list("pk", flat=True).first()
    people = {user.username: user for user in get_user_model().objects.filter(memberships__tenant=tenant)}
    actor = Actor.system("bench")
    operator_key = api_key_create(tenant=tenant, user=people["bench-operator"], name="bench", actor=actor,
                                  scopes=["read", "runs:write"])[1]
    approver_key = api_key_create(tenant=tenant, user=people["bench-approver"], name="bench", actor=actor,
                                  scopes=["read", "approvals:write"])[1]
    return Built(tenant.pk, str(long_run), operator_key, approver_key)


def _people(tenant) -> list:
    """An operator (staff, for the admin's audit list), an approver and two more who start runs."""
    users = []
    for name, role in (("bench-operator", Role.OPERATOR), ("bench-approver", Role.APPROVER),
                       ("bench-dev", Role.DEVELOPER), ("bench-viewer", Role.VIEWER)):
        user = get_user_model().objects.create_user(name, password="bench", is_staff=name == "bench-operator")
        Membership.objects.create(user=user, tenant=tenant, role=role)
        users.append(user)
    return users


def _agent(tenant, slug: str, model: str) -> Agent:
    agent = Agent.objects.create(tenant=tenant, slug=slug, name=slug.title())
    version = AgentVersion.objects.create(agent=agent, number=1, model=model, provider="scripted",
                                          tools=list(TOOLS[:2]))
    Agent.objects.filter(pk=agent.pk).update(current_version=version)
    agent.current_version = version
    return agent


def _runs_batch(tenant, agents, users, rng, count: int, usage) -> None:
    now = timezone.now()
    runs, steps = [], []
    for _ in range(count):
        agent = rng.choice(agents)
        created = now - dt.timedelta(seconds=rng.randrange(DAYS * 86_400))
        status = rng.choice(STATUSES)
        run = _run(tenant, agent, rng.choice(users), created, status, rng)
        run_steps = _steps(run, created, status, rng)
        run.step_count = len(run_steps)
        runs.append(run)
        steps.extend(run_steps)
        totals = usage[(agent.pk, created.date())]
        totals[0] += 2
        totals[1] += run.tokens_in
        totals[2] += run.tokens_out
        totals[3] += run.cost
    with transaction.atomic(), dates_as_given(Run):
        Run.objects.bulk_create(runs)
        store.steps_insert(steps)


def _run(tenant, agent, user, created, status, rng, **fields) -> Run:
    ended = status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
    finished = created + dt.timedelta(milliseconds=rng.lognormvariate(8, 1)) if ended else None
    tokens_in, tokens_out = rng.randrange(800, 3_000), rng.randrange(50, 400)
    run = Run(
        id=uuid.uuid4(), tenant=tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop",
        status=status, created_by=user, input={"message": rng.choice(MESSAGES).format(n=rng.randrange(1000, 99999))},
        output={"answer": "Done: the order is on its way."} if status == RunStatus.SUCCEEDED else None,
        error={"code": "tool_error", "message": "the refund service answered 503"} if status == RunStatus.FAILED else None,
        started_at=created, finished_at=finished, created_at=created, updated_at=finished or created,
        tokens_in=tokens_in, tokens_out=tokens_out, cost=tokens_in * PRICE_IN + tokens_out * PRICE_OUT, **fields,
    )
    # As the service writes them; the runs list shows and searches these, never the JSON.
    run.input_preview, run.output_preview = input_preview(run.input), output_preview(run.output, run.error)
    return run


def _steps(run: Run, start, status, rng) -> list[tuple]:
    """A model call asking for a tool, the tool call, the model's answer (~3 steps a run)."""
    tool = rng.choice(TOOLS)
    failed = rng.random() < 0.06
    at = [start + dt.timedelta(milliseconds=n) for n in (0, 900, 900 + rng.randrange(5, 3_000))]
    rows = [
        _model_step(run, 1, at[0], run.input["message"], tool, run.tokens_in // 2, run.tokens_out // 2),
        store.step_row(run_id=run.pk, seq=2, kind=StepKind.TOOL, name=tool, started_at=at[1], finished_at=at[2],
                       status=StepStatus.FAILED if failed else StepStatus.COMPLETED,
                       input={"arguments": {"order_id": "1042"}, "idempotency_key": f"{run.pk}:2"},
                       output=None if failed else {"status": "shipped", "eta": "tomorrow"},
                       error={"code": "http_503", "message": "unavailable"} if failed else None),
    ]
    if status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
        rows.append(_model_step(run, 3, at[2], None, None, run.tokens_in - run.tokens_in // 2,
                                run.tokens_out - run.tokens_out // 2, previous=1))
    return rows


def _model_step(run, seq, at, message, tool, tokens_in, tokens_out, previous=None) -> tuple:
    messages = [{"role": "user", "content": message}] if message else [{"role": "tool", "content": "{\"ok\": true}"}]
    calls = [{"id": f"call_{seq}", "name": tool.replace(".", "__"), "arguments": "{\"order_id\": \"1042\"}"}] if tool else []
    return store.step_row(
        run_id=run.pk, seq=seq, kind=StepKind.LLM, name=run.agent_version.model, model=run.agent_version.model,
        status=StepStatus.COMPLETED, started_at=at, finished_at=at + dt.timedelta(milliseconds=850),
        input={"conversation": "main", "previous": previous, "messages": messages, "tools": [],
               "model": run.agent_version.model, "temperature": None},
        output={"content": None if tool else "Done: the order is on its way.", "tool_calls": calls,
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out, "cached_input_tokens": 0},
                "model": run.agent_version.model, "finish_reason": "tool_calls" if tool else "stop"},
        tokens_in=tokens_in, tokens_out=tokens_out, cost=tokens_in * PRICE_IN + tokens_out * PRICE_OUT,
    )


def _long_run(tenant, agent, user) -> None:
    """A succeeded run of 1,000 steps: model call, tool call, code step, over and over."""
    rng = random.Random(1)
    start = timezone.now() - dt.timedelta(hours=2)
    run = _run(tenant, agent, user, start, RunStatus.SUCCEEDED, rng, step_count=1_000)
    run.finished_at = start + dt.timedelta(seconds=1_000)
    rows = []
    for seq in range(1, 1_001):
        at = start + dt.timedelta(seconds=seq - 1)
        if seq % 3 == 1:
            rows.append(_model_step(run, seq, at, f"step {seq}: look the order up", "orders.lookup", 400, 40,
                                    previous=seq - 3 if seq > 3 else None))
        elif seq % 3 == 2:
            rows.append(store.step_row(run_id=run.pk, seq=seq, kind=StepKind.TOOL, name="orders.lookup",
                                       status=StepStatus.COMPLETED, started_at=at,
                                       finished_at=at + dt.timedelta(milliseconds=120),
                                       input={"arguments": {"order_id": str(seq)}}, output={"status": "shipped"}))
        else:
            rows.append(store.step_row(run_id=run.pk, seq=seq, kind=StepKind.CODE, name=f"note-{seq}",
                                       status=StepStatus.COMPLETED, started_at=at,
                                       finished_at=at + dt.timedelta(milliseconds=5), output={"n": seq}))
    with transaction.atomic(), dates_as_given(Run):
        Run.objects.bulk_create([run])
        store.steps_insert(rows)


def _waiting_for_approval(tenant, agent, users, rng, count: int) -> None:
    """Runs parked on a refund approval: a model call, then the waiting approval step."""
    now = timezone.now()
    runs, steps, requests = [], [], []
    for n in range(count):
        created = now - dt.timedelta(seconds=rng.randrange(DAYS * 86_400))
        run = _run(tenant, agent, rng.choice(users[2:]), created, RunStatus.WAITING, rng,
                   waiting_reason=WaitingReason.APPROVAL, step_count=2)
        runs.append(run)
        amount = rng.randrange(60, 900)
        steps += [_model_step(run, 1, created, run.input["message"], "billing.refund", 900, 60),
                  store.step_row(run_id=run.pk, seq=2, kind=StepKind.APPROVAL, name="billing.refund",
                                 status=StepStatus.WAITING, started_at=created + dt.timedelta(seconds=1),
                                 input={"arguments": {"order_id": str(n), "amount": amount}})]
        requests.append(ApprovalRequest(
            tenant=tenant, run=run, agent_id=run.agent_id, step_seq=2, tool_name="billing.refund",
            title=f"Refund ${amount} on order {n}",
            context={"request": run.input["message"], "reason": "the customer asked for a refund"},
            proposed_arguments={"order_id": str(n), "amount": amount}, proposed_hash=uuid.uuid4().hex * 2,
            requested_by=run.created_by, created_at=created))
    with transaction.atomic(), dates_as_given(Run, ApprovalRequest):
        Run.objects.bulk_create(runs)
        store.steps_insert(steps)
        ApprovalRequest.objects.bulk_create(requests)


def _audit(tenant, operator) -> None:
    """One `run.<status>` event per run, appended through the audit log's own service."""
    actor = Actor.for_user(operator)
    ids = list(Run.objects.filter(tenant=tenant).order_by("created_at").values_list("pk", "status"))
    for first in range(0, len(ids), BATCH):
        runs = [Run(pk=pk, status=status) for pk, status in ids[first:first + BATCH]]
        events = [audit_prepare(tenant=tenant, action=f"run.{run.status}", actor=actor, target=run) for run in runs]
        with transaction.atomic():
            audit_append_all(events)
