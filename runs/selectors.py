"""Reads of runs and their journal, always scoped to the principal's tenant.

Every function here runs a fixed number of queries whatever the size of the run: lists use
`select_related`, pages of steps are one query, and what a page needs besides its steps (child
runs, approval requests, blobs) is fetched in one query per kind for the whole page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import reduce
from operator import or_

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from agentops.agents.models import Agent, AgentVersion
from agentops.keyset import KeysetQuery
from agentops.tenancy.principal import Principal

from .models import (
    EVAL_METADATA_KEY, FINISHED_STATUSES, Run, RunOutcome, RunStatus, Step, StepKind, StepStatus, WaitingReason,
)
from .search import run_search_condition, search_words
from .waits import WaitView, wait_kind

STEP_PAGE_SIZE = 200

# Steps in these states may still change (a tool step finishing, an approval being decided);
# a live page keeps asking for them until they settle.
UNSETTLED_STEP_STATUSES = (StepStatus.STARTED, StepStatus.WAITING, StepStatus.IN_DOUBT)


def tenant_runs(principal: Principal) -> QuerySet[Run]:
    if not principal.can("view", "read"):
        return Run.objects.none()
    return Run.objects.filter(tenant_id=principal.tenant.pk)


def run_list(
    *,
    principal: Principal,
    agent=None,
    version: int | None = None,
    status: str | None = None,
    thread: str | None = None,
    eval_run: int | None = None,
    user=None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    q: str | None = None,
) -> KeysetQuery:
    """The tenant's runs, newest first by (created_at, id), with agent, version and users joined in:
    page it with `.page(cursor=, size=)`. Each filter has an index that serves this order (Run.Meta).

    `agent` is an Agent, its pk or its slug, and `version` its version number; `status` a RunOutcome
    (`succeeded_with_errors`: succeeded runs with a failed tool call); `thread` a conversation
    thread; `eval_run` the id of the eval run that started them; `user` (a user or pk) matches who started the run or on whose behalf it acts;
    `date_from`/`date_to` are inclusive days of `created_at` in the current time zone; `q` words
    of the input or output previews (runs/search.py).
    """
    runs = tenant_runs(principal).select_related(
        "agent", "agent_version", "created_by", "on_behalf_of", "api_key"
    )
    if agent:
        # The agent's id, not a join on its slug: so the (tenant, agent, created_at, id) index is used.
        slug = Agent.objects.filter(tenant_id=principal.tenant.pk, slug=agent).values("pk")[:1]
        runs = runs.filter(agent_id=Subquery(slug)) if isinstance(agent, str) else runs.filter(agent=agent)
        if version:
            runs = runs.filter(agent_version=_version_id(principal, agent, version))
    if status == RunOutcome.SUCCEEDED_WITH_ERRORS:
        runs = runs.filter(SUCCEEDED_WITH_ERRORS)
    elif status:
        runs = runs.filter(status=status)
    if thread:
        runs = runs.filter(thread=thread)
    if eval_run:
        # No index of its own: an eval run's runs were created together, so the newest-first walk
        # of the tenant's runs reaches them in one stretch.
        runs = runs.filter(**{f"metadata__{EVAL_METADATA_KEY}__eval_run": eval_run})
    if date_from:
        runs = runs.filter(created_at__gte=_start_of_day(date_from))
    if date_to:
        runs = runs.filter(created_at__lt=_start_of_day(date_to + dt.timedelta(days=1)))
    if q and search_words(q):
        runs = runs.filter(run_search_condition(search_words(q)))
    if user:
        # Two branches, each served by its own index in order, rather than an OR that no index serves.
        return KeysetQuery((runs.filter(created_by=user), runs.filter(on_behalf_of=user)))
    return KeysetQuery((runs,))


# In literal SQL, not parameters: a planner takes a partial index (Run.Meta, run_list_with_errors)
# only for a condition that visibly implies the index's own.
SUCCEEDED_WITH_ERRORS = Q(RawSQL(f"\"runs_run\".\"status\" = '{RunStatus.SUCCEEDED}' AND \"runs_run\".\"tool_errors\" > 0",
                                 [], output_field=BooleanField()))


def _version_id(principal: Principal, agent, number: int) -> int | None:
    """The id of `agent`'s version `number` in the tenant (None matches no run). One query."""
    versions = AgentVersion.objects.filter(agent__tenant_id=principal.tenant.pk, number=number)
    versions = versions.filter(agent__slug=agent) if isinstance(agent, str) else versions.filter(agent=agent)
    return versions.values_list("pk", flat=True).first()


def _start_of_day(day: dt.date) -> dt.datetime:
    # A range on the column itself (not `created_at__date`) keeps the (tenant, status, created_at) index usable.
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


THREAD_RUNS_SHOWN = 100


def thread_runs(*, principal: Principal, thread) -> list[Run]:
    """The thread's latest runs the principal may view, oldest first."""
    runs = (tenant_runs(principal).filter(thread_ref=thread)
            .select_related("agent", "agent_version", "created_by", "on_behalf_of")
            .order_by("-created_at")[:THREAD_RUNS_SHOWN])
    return list(runs)[::-1]


def run_get_for_user(*, principal: Principal, run_id) -> Run | None:
    """The run `run_id` if it belongs to the principal's tenant and they may view it, else None.

    One query; agent (with its current version, for the replay buttons), version, users and parent
    run are joined in.
    """
    try:
        run_id = uuid.UUID(str(run_id))
    except ValueError:
        return None
    return (
        tenant_runs(principal)
        .select_related("agent__current_version", "agent_version", "created_by", "on_behalf_of", "api_key",
                        "parent__agent")
        .filter(pk=run_id)
        .first()
    )


def step_list(*, run: Run, after_seq: int = 0, limit: int = STEP_PAGE_SIZE, also_seqs=()) -> list[Step]:
    """Up to `limit` steps of `run` with seq > `after_seq`, in order, plus the steps `also_seqs`
    (a live page re-reads steps it shows that may still change). One query.

    The caller owns the run: scope it with `run_get_for_user` first.
    """
    newer = Step.objects.filter(run=run, seq__gt=after_seq).order_by("seq")
    if not also_seqs:
        return list(newer[:limit])
    # One statement: the window of newer steps as a subquery, or'ed with the steps to re-read.
    window = newer.values("seq")[:limit]
    return list(Step.objects.filter(Q(seq__in=window) | Q(seq__in=list(also_seqs)), run=run).order_by("seq"))


def runs_changed(*, seen: dict[str, tuple[int, int, dt.datetime | None]]) -> set[str]:
    """Which of the runs `seen` ({run id: (tenant id, seq, updated_at)}) changed since: its row is
    newer than `updated_at` (status, waits) or gone, or it has a step after `seq` that is no longer
    started. Two queries for any number of runs: the event streams' poll (runs/follower.py).

    The ids come from streams that were allowed to follow them; the tenant is checked anyway.
    """
    rows = Run.objects.filter(reduce(or_, (Q(pk=run_id, tenant_id=tenant) for run_id, (tenant, _, _) in seen.items())))
    now = {str(pk): updated_at for pk, updated_at in rows.values_list("pk", "updated_at")}
    changed = {run_id for run_id, (_, _, updated_at) in seen.items()
               if run_id not in now or updated_at is None or now[run_id] > updated_at}
    rest = [run_id for run_id in seen if run_id not in changed]
    if rest:
        newer = reduce(or_, (Q(run_id=run_id, run__tenant_id=seen[run_id][0], seq__gt=seen[run_id][1])
                             for run_id in rest))
        changed |= {str(pk) for pk in Step.objects.filter(newer).exclude(status=StepStatus.STARTED)
                    .values_list("run_id", flat=True).distinct()}
    return changed


def child_runs_for_steps(*, run: Run, steps) -> dict[int, Run]:
    """{parent step seq: child run} for the `child` steps among `steps`. At most one query."""
    seqs = [s.seq for s in steps if s.kind == StepKind.CHILD]
    if not seqs:
        return {}
    children = Run.objects.filter(parent=run, tenant_id=run.tenant_id, parent_step_seq__in=seqs)
    return {child.parent_step_seq: child for child in children.select_related("agent", "agent_version")}


def waits_for_steps(*, run: Run, steps) -> dict[int, WaitView]:
    """{step seq: how to show and link its wait} for the `approval` steps among `steps`. At most
    one query."""
    seqs = [s.seq for s in steps if s.kind == StepKind.APPROVAL]
    approvals = wait_kind("approval")
    if not seqs or approvals is None:
        return {}
    return approvals.describe(run=run, seqs=seqs)


def run_waiting_on(*, run: Run) -> dict:
    """What a waiting run waits for, to show and link: {"reason", "approval", "child", "step_seq",
    "wake_at"}. Empty for a run that does not wait. At most one query.
    """
    if run.status != RunStatus.WAITING:
        return {}
    found = {"reason": run.waiting_reason, "approval": None, "child": None, "step_seq": None, "wake_at": run.wake_at}
    approvals = wait_kind("approval")
    if run.waiting_reason == WaitingReason.APPROVAL and approvals is not None:
        found["approval"] = next(iter(approvals.describe(run=run, seqs=None).values()), None)
    elif run.waiting_reason == WaitingReason.CHILD:
        found["child"] = (
            run.children.exclude(status__in=FINISHED_STATUSES).select_related("agent").order_by("created_at").first()
        )
    elif run.waiting_reason == WaitingReason.IN_DOUBT:
        in_doubt = Step.objects.filter(run=run, status=StepStatus.IN_DOUBT).order_by("seq")
        found["step_seq"] = in_doubt.values_list("seq", flat=True).first()
    return found


def run_filter_choices(*, principal: Principal) -> dict:
    """The agents and members of the tenant, for the runs filter form. Two queries."""
    if not principal.can("view", "read"):
        return {"agents": [], "users": []}
    agents = list(Agent.objects.filter(tenant_id=principal.tenant.pk).order_by("slug"))
    users = list(
        get_user_model()
        .objects.filter(memberships__tenant_id=principal.tenant.pk)
        .order_by("username")
        .distinct()
    )
    return {"agents": agents, "users": users}
