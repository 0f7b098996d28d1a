"""Cost budgets: a tenant's daily and monthly limits and each agent's, read from DailyUsage.

Every model call adds its cost to DailyUsage (tenant, agent, UTC day), so what a budget has used
is one indexed sum over at most the month's days. Before a new model call the engine reads the
budgets of its run's tenant and agent (`budget_uses`): a used-up one stops the call (the tenant's
policy: fail the run, or pause it for an owner), and one past WARN_RATIO sends `budget.warning`
once per budget and period (`budget_warn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from agentops import config_cache
from agentops.webhooks.services import webhook_emit

from .models import BudgetWarning, DailyUsage

WARN_RATIO = Decimal("0.8")
CENT = Decimal("0.01")
MICRO_DOLLAR = Decimal("0.000001")
DAILY, MONTHLY = "daily", "monthly"


@dataclass(frozen=True)
class BudgetUse:
    """One budget (the tenant's or an agent's, per day or month) and what its period has used."""

    period: str
    limit: Decimal
    spent: Decimal
    period_start: date
    agent: str = ""  # the agent's slug; empty for the tenant's own budget

    @property
    def key(self) -> str:
        return f"agent:{self.agent}" if self.agent else "tenant"

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.limit

    @property
    def warned(self) -> bool:
        return self.spent >= self.limit * WARN_RATIO

    @property
    def percent(self) -> int:
        return int(self.spent * 100 / self.limit) if self.limit else 100

    @property
    def code(self) -> str:
        return "agent_budget_exceeded" if self.agent else "tenant_budget_exceeded"

    def describe(self, tenant_slug: str) -> str:
        who = f"agent {self.agent}" if self.agent else f"tenant {tenant_slug}"
        return f"{who} has spent ${_money(self.spent)} of its ${_money(self.limit)} {self.period} budget"

    @property
    def banner_text(self) -> str:
        whose = f"agent {self.agent}'s" if self.agent else "the tenant's"
        return f"{whose} {self.period} budget has spent ${_money(self.spent)} of ${_money(self.limit)}"

    def as_dict(self) -> dict:
        return {"budget": self.key, "period": self.period, "period_start": self.period_start.isoformat(),
                "limit": str(self.limit.quantize(MICRO_DOLLAR)), "spent": str(self.spent.quantize(MICRO_DOLLAR)),
                "percent": self.percent}


def _money(value: Decimal) -> str:
    # Cents, unless the amount is smaller than a cent and would read as zero.
    return str(value.quantize(CENT)) if value >= CENT or value == 0 else str(value.normalize())


def budget_uses(*, tenant, agent, today: date | None = None) -> list[BudgetUse]:
    """The budgets a model call of `agent` must stay within, with what each has used. One
    aggregate query over the tenant's DailyUsage rows of the month; none when nothing is limited."""
    limits = {("tenant", DAILY): tenant.daily_cost_limit, ("tenant", MONTHLY): tenant.monthly_cost_limit,
              ("agent", DAILY): agent.daily_cost_limit, ("agent", MONTHLY): agent.monthly_cost_limit}
    if all(limit is None for limit in limits.values()):
        return []
    today = today or timezone.now().date()
    month_start = today.replace(day=1)
    mine = Q(agent_id=agent.pk)
    sums = DailyUsage.objects.filter(tenant_id=tenant.pk, day__gte=month_start, day__lte=today).aggregate(
        tenant_daily=Sum("cost", filter=Q(day=today)), tenant_monthly=Sum("cost"),
        agent_daily=Sum("cost", filter=mine & Q(day=today)), agent_monthly=Sum("cost", filter=mine))
    return [
        BudgetUse(period=period, limit=limit, spent=sums[f"{scope}_{period}"] or Decimal(0),
                  period_start=today if period == DAILY else month_start,
                  agent=agent.slug if scope == "agent" else "")
        for (scope, period), limit in limits.items() if limit is not None
    ]


def budgets_summary(*, tenant) -> dict:
    """The budgets API's answer: the tenant's limits and policy, every agent with a limit, and what
    each has spent this UTC day and month."""
    totals, per_agent = _month_spend(tenant.pk, timezone.now().date())
    agents = tenant.agents.filter(_has_limit()).order_by("slug")

    def spend(owner, spent: dict) -> dict:
        return {"daily_limit": owner.daily_cost_limit, "monthly_limit": owner.monthly_cost_limit,
                "daily_spent": spent.get(DAILY) or Decimal(0), "monthly_spent": spent.get(MONTHLY) or Decimal(0)}

    return {"policy": tenant.budget_policy, "warn_at_percent": int(WARN_RATIO * 100), "tenant": spend(tenant, totals),
            "agents": [{"agent": agent.slug, **spend(agent, per_agent.get(agent.pk, {}))} for agent in agents]}


def _has_limit() -> Q:
    return Q(daily_cost_limit__isnull=False) | Q(monthly_cost_limit__isnull=False)


def _month_spend(tenant_id, today: date) -> tuple[dict, dict]:
    """({daily, monthly} of the tenant, {agent id: {daily, monthly}}) spent up to `today`."""
    usage = DailyUsage.objects.filter(tenant_id=tenant_id, day__gte=today.replace(day=1), day__lte=today)
    sums = {DAILY: Sum("cost", filter=Q(day=today)), MONTHLY: Sum("cost")}
    totals = usage.aggregate(**sums)
    return totals, {row["agent_id"]: row for row in usage.values("agent_id").annotate(**sums)}


def budget_banner(*, tenant, today: date | None = None) -> list[BudgetUse]:
    """The tenant's budgets past the warning threshold, for the banner of every page: one grouped
    query over the month's DailyUsage with the agents' limits joined. Deliberately not cached: a
    page then costs the same queries whatever a cache holds (the pages' tests count them), and the
    rows read are at most the month's days times the agents that spent."""
    today = today or timezone.now().date()
    rows = list(DailyUsage.objects.filter(tenant_id=tenant.pk, day__gte=today.replace(day=1), day__lte=today)
                .values("agent__slug", "agent__daily_cost_limit", "agent__monthly_cost_limit")
                .annotate(daily=Sum("cost", filter=Q(day=today)), monthly=Sum("cost")))
    totals = {period: sum((row[period] or Decimal(0) for row in rows), Decimal(0)) for period in (DAILY, MONTHLY)}
    owners = [({DAILY: tenant.daily_cost_limit, MONTHLY: tenant.monthly_cost_limit}, totals, "")] + [
        ({DAILY: row["agent__daily_cost_limit"], MONTHLY: row["agent__monthly_cost_limit"]}, row, row["agent__slug"])
        for row in rows]
    uses = [BudgetUse(period=period, limit=limits[period], spent=spent[period] or Decimal(0),
                      period_start=today if period == DAILY else today.replace(day=1), agent=slug)
            for limits, spent, slug in owners for period in (DAILY, MONTHLY) if limits[period] is not None]
    return [use for use in uses if use.warned]


def budget_warn(*, tenant, uses: list[BudgetUse]) -> int:
    """Send `budget.warning` for each budget past WARN_RATIO that has not had it this period;
    returns how many were sent. The BudgetWarning row and the webhook's delivery commit together,
    and the row's uniqueness makes it once per period even when workers race."""
    sent = 0
    for use in uses:
        if not use.warned or _already_warned(tenant.pk, use):
            continue
        try:
            with transaction.atomic():
                BudgetWarning.objects.create(tenant_id=tenant.pk, budget=use.key, period=use.period,
                                             period_start=use.period_start, spent=use.spent, limit=use.limit)
                webhook_emit(tenant=tenant, event="budget.warning",
                             payload={**use.as_dict(), "agent": use.agent or None,
                                      "message": use.describe(tenant.slug)})
                config_cache.invalidate()
        except IntegrityError:
            config_cache.invalidate()  # another worker warned first: stop asking
            continue
        sent += 1
    return sent


def _already_warned(tenant_id, use: BudgetUse) -> bool:
    # Past the threshold every model call asks: the answer is cached with the configuration, which
    # sending a warning invalidates (a rare event: once per budget and period).
    return config_cache.cached(
        ("budget-warned", tenant_id, use.key, use.period, use.period_start.isoformat()),
        lambda: BudgetWarning.objects.filter(tenant_id=tenant_id, budget=use.key, period=use.period,
                                             period_start=use.period_start).exists())
