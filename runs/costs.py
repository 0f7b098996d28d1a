"""Recomputing the cost of past model calls after a price correction (`manage.py costs recompute`).

Each completed model step since a date is priced again with the price in effect when it started
(agentops.llm.pricing, the tier of its prompt). A step whose cost changes takes the new cost and
price snapshot; the difference goes to its run's total, to the DailyUsage row of the day the call
was counted on (the day it finished, UTC), and to the dashboard's rollups (an ended run is taken
out of them and added back around the change). Batches of steps are one transaction each, so a
long recompute holds no lock for long and an interrupted one can simply be run again: a step
already at its right cost does not change. One audit event per tenant concerned records the
counts and the total difference.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from agentops.audit.services import Actor, audit_record
from agentops.llm.base import Usage
from agentops.llm.pricing import cost_of, price_pick, price_rows, price_snapshot
from agentops.tenancy.models import Tenant

from .models import FINISHED_STATUSES, DailyUsage, Run, Step, StepKind, StepStatus
from .rollups import run_rollups_add

BATCH = 500
STEP_FIELDS = ("pk", "run_id", "model", "tokens_in", "tokens_out", "tokens_cached", "cost", "started_at",
               "finished_at", "run__tenant_id", "run__agent_id", "run__status")


@dataclass
class Recomputed:
    """What a recompute found (and, unless a dry run, changed), per tenant id."""

    steps: dict = field(default_factory=lambda: defaultdict(int))  # steps priced again
    changed: dict = field(default_factory=lambda: defaultdict(int))  # of which got another cost
    runs: dict = field(default_factory=lambda: defaultdict(set))  # runs whose total changed
    delta: dict = field(default_factory=lambda: defaultdict(Decimal))  # new cost minus old, USD

    def summary(self, tenant_id) -> dict:
        return {"steps": self.steps[tenant_id], "changed": self.changed[tenant_id],
                "runs": len(self.runs[tenant_id]), "delta": str(self.delta[tenant_id])}


def costs_recompute(*, since: datetime, tenant: Tenant | None = None, dry_run: bool = False,
                    actor: Actor, batch: int = BATCH) -> Recomputed:
    """Price again the completed model steps started at or after `since` (of `tenant`, or of every
    tenant); see the module's docstring. A dry run reads and reports without writing."""
    steps = Step.objects.filter(kind=StepKind.LLM, status=StepStatus.COMPLETED, started_at__gte=since)
    if tenant is not None:
        steps = steps.filter(run__tenant=tenant)
    result, prices, after = Recomputed(), {}, 0
    while rows := list(steps.filter(pk__gt=after).order_by("pk").values(*STEP_FIELDS)[:batch]):
        after = rows[-1]["pk"]
        changes = [(row, *_priced(row, prices)) for row in rows]
        for row, cost, _ in changes:
            tenant_id = row["run__tenant_id"]
            result.steps[tenant_id] += 1
            if cost != row["cost"]:
                result.changed[tenant_id] += 1
                result.runs[tenant_id].add(row["run_id"])
                result.delta[tenant_id] += cost - row["cost"]
        changed = [change for change in changes if change[1] != change[0]["cost"]]
        if changed and not dry_run:
            _apply(changed)
    if not dry_run:
        _audit(result, since=since, actor=actor)
    return result


def _priced(row: dict, prices: dict) -> tuple[Decimal, dict]:
    """(cost, price snapshot) of the step under the price table as it is now."""
    model = row["model"]
    if model not in prices:
        prices[model] = price_rows(model)
    usage = Usage(input_tokens=row["tokens_in"], output_tokens=row["tokens_out"],
                  cached_input_tokens=row["tokens_cached"])
    price = price_pick(prices[model], model, at=row["started_at"], prompt_tokens=row["tokens_in"])
    return cost_of(usage, price), price_snapshot(price)


def _apply(changed: list[tuple[dict, Decimal, dict]]) -> None:
    """One batch's new costs, with the totals that include them, in one transaction."""
    per_run, per_day = defaultdict(Decimal), defaultdict(Decimal)
    for row, cost, _ in changed:
        delta = cost - row["cost"]
        per_run[row["run_id"]] += delta
        per_day[(row["run__tenant_id"], row["run__agent_id"], (row["finished_at"] or row["started_at"]).date())] += delta
    ended = sorted({row["run_id"] for row, _, _ in changed if row["run__status"] in FINISHED_STATUSES}, key=str)
    with transaction.atomic():
        for run_id in ended:
            run_rollups_add(run_id, sign=-1)
        Step.objects.bulk_update([Step(pk=row["pk"], cost=cost, price=snapshot) for row, cost, snapshot in changed],
                                 ["cost", "price"])
        for run_id, delta in per_run.items():
            Run.objects.filter(pk=run_id).update(cost=F("cost") + delta)
        for (tenant_id, agent_id, day), delta in per_day.items():
            DailyUsage.objects.filter(tenant_id=tenant_id, agent_id=agent_id, day=day).update(cost=F("cost") + delta)
        for run_id in ended:
            run_rollups_add(run_id)


def _audit(result: Recomputed, *, since: datetime, actor: Actor) -> None:
    for tenant in Tenant.objects.filter(pk__in=[pk for pk, count in result.changed.items() if count]):
        with transaction.atomic():
            audit_record(tenant=tenant, action="costs.recomputed", actor=actor, target=tenant,
                         data={"since": since.isoformat(), **result.summary(tenant.pk)})
