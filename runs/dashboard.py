"""Reads for the dashboard: usage, cost, run outcomes, latencies, models and tools of the
principal's tenant over a period, from rollups: never a scan of the period's runs or steps.

Days are UTC dates. Model calls, tokens and cost per agent and day come from DailyUsage, the
counters the engine keeps per tenant, agent and `timezone.now().date()` (the UTC date with USE_TZ)
on every model call. Ended runs — their outcomes, durations, models, tokens and tool calls — come
from RunRollup and ToolRollup (runs.rollups), added when each run ends and dated by the UTC day
the run was created; runs not yet ended are counted live, through the (tenant, status, created_at)
index, as they are few.

`dashboard_get` runs eleven queries whatever the number of agents, runs or days: usage grouped by
day, usage grouped by agent, run rollups grouped by agent, model, outcome and error code,
unfinished runs of the period grouped by agent and status, tool rollups grouped by tool, waiting
runs grouped by reason, and five on approval requests (pending: count and oldest, the median;
decided in the period: count, p50, p95). Totals, the error codes and the charts' series are made
here from those rows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.utils import timezone

from agentops.tenancy.principal import Principal

from .models import (LATENCY_BOUNDS_MS, LATENCY_BUCKETS, UNFINISHED_STATUSES, DailyUsage,
                     RunOutcome, RunRollup, RunStatus, ToolRollup, WaitingReason)
from .selectors import tenant_runs
from .waits import ResolutionTimes, WaitAges, wait_kind

PERIODS = (7, 14, 30)
DEFAULT_PERIOD = 14


@dataclass(frozen=True)
class Period:
    """The last `days` UTC days, today included."""

    days: int
    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        """Midnight UTC at the start of the first day: where run counts begin."""
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=dt.timezone.utc)

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range(self.days)]


def period_for(days=None, *, today: dt.date | None = None) -> Period:
    """The period of `days` (7, 14 or 30; anything else, e.g. a bad query string, gives 14)."""
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = DEFAULT_PERIOD
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    # The engine dates usage with timezone.now().date(): the UTC date, whatever TIME_ZONE says.
    today = today or timezone.now().date()
    return Period(days=days, first=today - dt.timedelta(days=days - 1), last=today)


@dataclass
class Usage:
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)

    def add(self, other: Usage) -> None:
        self.model_calls += other.model_calls
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost += other.cost

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


@dataclass
class Latency:
    """A histogram of durations (the buckets of LATENCY_BOUNDS_MS) and their sum, in ms."""

    counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    total_ms: float = 0.0

    def add_row(self, row: dict) -> None:
        for index, bucket in enumerate(LATENCY_BUCKETS):
            self.counts[index] += row[bucket] or 0
        self.total_ms += row["duration_ms"] or 0

    @property
    def measured(self) -> int:
        return sum(self.counts)

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.measured if self.measured else None

    def quantile(self, q: float) -> Quantile | None:
        """The bucket holding the q-th quantile (nearest rank), None without durations."""
        rank = math.ceil(q * self.measured)
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if n and seen >= rank:
                low = LATENCY_BOUNDS_MS[index - 1] if index else 0
                high = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
                return Quantile(low, high)
        return None

    @property
    def p50(self) -> Quantile | None:
        return self.quantile(0.5)

    @property
    def p95(self) -> Quantile | None:
        return self.quantile(0.95)


@dataclass(frozen=True)
class Quantile:
    """A quantile read from a histogram: it lies in [low_ms, high_ms) (high None: no bound)."""

    low_ms: int
    high_ms: int | None


@dataclass
class RunOutcomes:
    """Runs created in the period, by the status they have now."""

    started: int = 0
    succeeded: int = 0
    succeeded_with_errors: int = 0  # ended well although some tool calls failed; not in `succeeded`
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0
    active: int = 0  # queued or running

    def count(self, status: str, n: int) -> None:
        """Count `n` runs of a status, or of an outcome (runs.rollups.run_outcome) once ended."""
        self.started += n
        if status == RunStatus.SUCCEEDED:
            self.succeeded += n
        elif status == RunOutcome.SUCCEEDED_WITH_ERRORS:
            self.succeeded_with_errors += n
        elif status == RunStatus.FAILED:
            self.failed += n
        elif status == RunStatus.CANCELLED:
            self.cancelled += n
        elif status == RunStatus.WAITING:
            self.waiting += n
        else:
            self.active += n

    def add(self, other: RunOutcomes) -> None:
        for name in ("started", "succeeded", "succeeded_with_errors", "failed", "cancelled", "waiting", "active"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def success_rate(self) -> float | None:
        """Clean successes ÷ (succeeded, with errors or not, + failed), 0 to 1; None before any run
        ends either way. A run whose tool calls failed is not a success the rate may claim.

        Cancelled runs are left out: someone stopped them, they neither worked nor broke.
        """
        decided = self.succeeded + self.succeeded_with_errors + self.failed
        return self.succeeded / decided if decided else None

    @property
    def success_percent(self) -> float | None:
        rate = self.success_rate
        return None if rate is None else rate * 100

    @property
    def error_percent(self) -> float | None:
        """Failed runs ÷ runs that ended either way (as success_rate counts them), in percent."""
        decided = self.succeeded + self.succeeded_with_errors + self.failed
        return self.failed / decided * 100 if decided else None


@dataclass
class DayUsage:
    day: dt.date
    usage: Usage
    height: float = 0.0  # the bar's height, percent of the chart's scale
    labelled: bool = True  # whether the axis prints this day's date


@dataclass
class AgentUsage:
    slug: str
    name: str
    usage: Usage = field(default_factory=Usage)
    runs: RunOutcomes = field(default_factory=RunOutcomes)
    latency: Latency = field(default_factory=Latency)  # of its ended runs, creation to end

    @property
    def cost_per_run(self) -> Decimal | None:
        """The period's cost over the runs created in it (a model call of a run created earlier
        counts on the day it was made, so this is an average, not a sum of run costs)."""
        return self.usage.cost / self.runs.started if self.runs.started else None


@dataclass
class ModelStats:
    """The ended runs of the period whose agent version named `model`, and what they spent."""

    model: str
    runs: RunOutcomes = field(default_factory=RunOutcomes)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    latency: Latency = field(default_factory=Latency)


@dataclass
class ToolStats:
    """The calls of a tool made by runs of the period that have ended."""

    tool: str
    calls: int = 0
    errors: int = 0
    cost: Decimal = Decimal(0)
    latency: Latency = field(default_factory=Latency)

    @property
    def error_percent(self) -> float | None:
        return self.errors / self.calls * 100 if self.calls else None


@dataclass(frozen=True)
class ErrorCount:
    code: str
    runs: int


@dataclass(frozen=True)
class ApprovalStats:
    """Pending approval requests now, and the time decisions of the period took."""

    pending: WaitAges
    decisions: ResolutionTimes


NO_APPROVALS = ApprovalStats(WaitAges(0, None, None), ResolutionTimes(0, None, None))


@dataclass
class WaitingGroup:
    reason: str
    label: str
    count: int

    # Enough of a Run for the shared status badge partial (runs/_status.html).
    status = RunStatus.WAITING

    @property
    def waiting_reason(self) -> str:
        return self.reason

    def get_status_display(self) -> str:
        return RunStatus.WAITING.label

    def get_waiting_reason_display(self) -> str:
        return self.label


@dataclass
class Dashboard:
    period: Period
    usage: Usage
    runs: RunOutcomes
    days: list[DayUsage]
    scale: Decimal  # the cost at the top of the chart
    agents: list[AgentUsage]
    models: list[ModelStats]
    tools: list[ToolStats]
    latency: Latency  # of every run of the period that has ended
    waiting: list[WaitingGroup]
    approvals: ApprovalStats
    errors: list[ErrorCount]  # the codes of the period's failed runs, most frequent first

    periods = PERIODS

    @property
    def pending_approvals(self) -> int:
        return self.approvals.pending.open

    def charts(self) -> dict:
        """What the page's charts draw (Chart.js, static/js/dashboard_charts.js), as plain JSON."""
        outcomes = [("succeeded", "Succeeded"), ("succeeded_with_errors", "Succeeded with errors"),
                    ("failed", "Failed"), ("cancelled", "Cancelled"), ("waiting", "Waiting"),
                    ("active", "Queued or running")]
        return {
            "days": {"labels": [d.day.isoformat() for d in self.days],
                     "cost": [float(d.usage.cost) for d in self.days],
                     "tokens": [d.usage.tokens for d in self.days]},
            "statuses": {"labels": [label for _, label in outcomes],
                         "runs": [getattr(self.runs, name) for name, _ in outcomes]},
            "agents": {"labels": [a.slug for a in self.agents], "cost": [float(a.usage.cost) for a in self.agents],
                       "tokens": [a.usage.tokens for a in self.agents]},
            "models": {"labels": [m.model or "—" for m in self.models], "cost": [float(m.cost) for m in self.models],
                       "tokens": [m.tokens_in + m.tokens_out for m in self.models]},
        }

    @property
    def waiting_now(self) -> int:
        return sum(group.count for group in self.waiting)

    @property
    def cost_per_day(self) -> Decimal:
        return self.usage.cost / self.period.days

    @property
    def scale_middle(self) -> Decimal:
        return self.scale / 2


# -- scoping -----------------------------------------------------------------------------------


def _tenant_usage(principal: Principal):
    if not principal.can("view", "read"):
        return DailyUsage.objects.none()
    return DailyUsage.objects.filter(tenant_id=principal.tenant.pk)


def _usage(row: dict) -> Usage:
    return Usage(
        model_calls=row["model_calls"] or 0,
        tokens_in=row["tokens_in"] or 0,
        tokens_out=row["tokens_out"] or 0,
        cost=row["cost"] or Decimal(0),
    )


USAGE_SUMS = {
    "model_calls": Sum("model_calls"),
    "tokens_in": Sum("tokens_in"),
    "tokens_out": Sum("tokens_out"),
    "cost": Sum("cost"),
}


# -- selectors ---------------------------------------------------------------------------------


def usage_by_day_list(*, principal: Principal, period: Period) -> list[DayUsage]:
    """One entry per day of the period, oldest first, days without usage included as zeros.

    One query. Bar heights are set by `_scale_bars`.
    """
    rows = (
        _tenant_usage(principal)
        .filter(day__gte=period.first, day__lte=period.last)
        .values("day")
        .annotate(**USAGE_SUMS)
        .order_by()
    )
    by_day = {row["day"]: _usage(row) for row in rows}
    return [DayUsage(day=day, usage=by_day.get(day, Usage())) for day in period.dates()]


def agent_usage_list(*, principal: Principal, period: Period, rollups: list[dict] | None = None) -> list[AgentUsage]:
    """The agents with usage or runs in the period, costliest first, with their runs by outcome
    and the latency of those that ended.

    Two queries (three without `rollups`, the rows of `run_rollup_list`): usage grouped by agent,
    unfinished runs grouped by agent and status.
    """
    agents: dict[int, AgentUsage] = {}

    def agent(row) -> AgentUsage:
        if row["agent_id"] not in agents:
            agents[row["agent_id"]] = AgentUsage(slug=row["agent__slug"], name=row["agent__name"])
        return agents[row["agent_id"]]

    usage = (
        _tenant_usage(principal)
        .filter(day__gte=period.first, day__lte=period.last)
        .values("agent_id", "agent__slug", "agent__name")
        .annotate(**USAGE_SUMS)
        .order_by()
    )
    for row in usage:
        agent(row).usage = _usage(row)
    for row in run_rollup_list(principal=principal, period=period) if rollups is None else rollups:
        agent(row).runs.count(row["outcome"], row["runs"])
        agent(row).latency.add_row(row)
    for row in unfinished_run_list(principal=principal, period=period):
        agent(row).runs.count(row["status"], row["n"])
    return sorted(agents.values(), key=lambda a: (-a.usage.cost, -a.runs.started, a.slug))


ROLLUP_SUMS = {name: Sum(name) for name in ("runs", "tokens_in", "tokens_out", "cost", "duration_ms", *LATENCY_BUCKETS)}


def run_rollup_list(*, principal: Principal, period: Period) -> list[dict]:
    """The ended runs created in the period, summed per agent, model, outcome and error code: one
    query over at most days × agents × models × outcomes (× codes of failed runs) rollup rows. Groups left empty by a retry are dropped."""
    if not principal.can("view", "read"):
        return []
    rows = (
        RunRollup.objects.filter(tenant_id=principal.tenant.pk, day__gte=period.first, day__lte=period.last)
        .values("agent_id", "agent__slug", "agent__name", "model", "outcome", "error_code")
        .annotate(**ROLLUP_SUMS)
        .order_by()
    )
    return [row for row in rows if row["runs"]]


def unfinished_run_list(*, principal: Principal, period: Period) -> list[dict]:
    """The runs created in the period that have not ended, counted per agent and status: one
    query, through the (tenant, status, created_at) index, reading only those runs."""
    rows = (
        tenant_runs(principal)
        .filter(status__in=UNFINISHED_STATUSES, created_at__gte=period.start)
        # Grouped by `agent_id + 0`, which no index orders: grouped by the column itself, SQLite
        # reads the tenant's runs through the (tenant, agent, ...) index, every one of them.
        .values("status", "agent__slug", "agent__name", unordered_agent_id=F("agent_id") + 0)
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [{**row, "agent_id": row.pop("unordered_agent_id")} for row in rows]


def model_stats_list(rollups: list[dict]) -> list[ModelStats]:
    """Per model, costliest first, from the rows of `run_rollup_list` (no query)."""
    models: dict[str, ModelStats] = {}
    for row in rollups:
        stats = models.setdefault(row["model"], ModelStats(model=row["model"]))
        stats.runs.count(row["outcome"], row["runs"])
        stats.tokens_in += row["tokens_in"]
        stats.tokens_out += row["tokens_out"]
        stats.cost += row["cost"]
        stats.latency.add_row(row)
    return sorted(models.values(), key=lambda m: (-m.cost, -m.runs.started, m.model))


TOOL_SUMS = {name: Sum(name) for name in ("calls", "errors", "cost", "duration_ms", *LATENCY_BUCKETS)}


def tool_stats_list(*, principal: Principal, period: Period) -> list[ToolStats]:
    """Per tool, most called first, the calls of the period's ended runs: one query over at most
    days × agents × tools rollup rows."""
    if not principal.can("view", "read"):
        return []
    rows = (
        ToolRollup.objects.filter(tenant_id=principal.tenant.pk, day__gte=period.first, day__lte=period.last)
        .values("tool")
        .annotate(**TOOL_SUMS)
        .order_by()
    )
    tools = []
    for row in rows:
        if not row["calls"]:
            continue
        stats = ToolStats(tool=row["tool"], calls=row["calls"], errors=row["errors"], cost=row["cost"])
        stats.latency.add_row(row)
        tools.append(stats)
    return sorted(tools, key=lambda t: (-t.calls, t.tool))


def waiting_run_list(*, principal: Principal) -> list[WaitingGroup]:
    """The tenant's runs waiting right now (whenever they started), counted by what they wait for.

    One query; reasons in the order WaitingReason declares them.
    """
    rows = (
        tenant_runs(principal)
        .filter(status=RunStatus.WAITING)
        .values("waiting_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["waiting_reason"]: row["n"] for row in rows}
    groups = [WaitingGroup(reason, label, counts.pop(reason)) for reason, label in WaitingReason.choices
              if reason in counts]
    # A waiting run without a reason should not happen; count it rather than hide it.
    other = sum(counts.values())
    if other:
        groups.append(WaitingGroup("", "unknown", other))
    return groups


def error_code_list(rollups: list[dict]) -> list[ErrorCount]:
    """The error codes of the failed runs among the rows of `run_rollup_list`, most frequent
    first (no query)."""
    counts: dict[str, int] = {}
    for row in rollups:
        if row["outcome"] == RunStatus.FAILED:
            counts[row["error_code"] or "(none)"] = counts.get(row["error_code"] or "(none)", 0) + row["runs"]
    return [ErrorCount(code, n) for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def approval_stats_get(*, principal: Principal, period: Period) -> ApprovalStats:
    """The whole tenant's pending approval requests (the nav badge counts only the user's) and
    their ages, and the time to decision of those decided in the period. Five queries."""
    approvals = wait_kind("approval")
    if approvals is None or not principal.can("view", "read"):
        return NO_APPROVALS
    return ApprovalStats(approvals.open_ages(tenant_id=principal.tenant.pk, now=timezone.now()),
                         approvals.resolution_times(tenant_id=principal.tenant.pk, since=period.start))


def dashboard_get(*, principal: Principal, days=None, today: dt.date | None = None) -> Dashboard:
    """Everything the dashboard shows for the last `days` UTC days. Eleven queries."""
    period = period_for(days, today=today)
    day_list = usage_by_day_list(principal=principal, period=period)
    rollups = run_rollup_list(principal=principal, period=period)
    agents = agent_usage_list(principal=principal, period=period, rollups=rollups)
    usage, runs, latency = Usage(), RunOutcomes(), Latency()
    for day in day_list:
        usage.add(day.usage)
    for agent in agents:
        runs.add(agent.runs)
    for row in rollups:
        latency.add_row(row)
    return Dashboard(
        period=period,
        usage=usage,
        runs=runs,
        days=day_list,
        scale=_scale_bars(day_list),
        agents=agents,
        models=model_stats_list(rollups),
        tools=tool_stats_list(principal=principal, period=period),
        latency=latency,
        waiting=waiting_run_list(principal=principal),
        approvals=approval_stats_get(principal=principal, period=period),
        errors=error_code_list(rollups),
    )


# -- the chart ---------------------------------------------------------------------------------


def _scale_bars(days: list[DayUsage]) -> Decimal:
    """Set each day's bar height against a round top of scale; return that top (0 without usage).

    Dates are printed under every bar for short periods and under every third bar, counted back
    from today, for long ones.
    """
    top = _round_up(max((d.usage.cost for d in days), default=Decimal(0)))
    every = 1 if len(days) <= 14 else 3
    for index, day in enumerate(days):
        day.height = float(day.usage.cost / top * 100) if top else 0.0
        day.labelled = (len(days) - 1 - index) % every == 0
    return top


def _round_up(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least `value`: a top of scale that reads well."""
    if value <= 0:
        return Decimal(0)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        top = step.scaleb(exponent)
        if top >= value:
            return top.normalize()
    raise AssertionError("unreachable: 10 × 10ⁿ exceeds any value of exponent n")
