"""The dashboard's rollups: written when a run ends (by the engine, a cancel) and taken back by a
retry; the dashboard's figures equal a direct aggregation over the runs and steps, for several
tenants, agents, models, days and statuses; its query count does not grow with the runs."""

import datetime as dt
import math
import random
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from agentops.audit.services import Actor
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.dashboard import Latency, Quantile, dashboard_get
from runs.models import (FINISHED_STATUSES, LATENCY_BOUNDS_MS, Run, RunRollup, RunStatus, Step, StepKind,
                         StepStatus, ToolRollup, WaitingReason)
from runs.registry import workflow
from runs.rollups import rollups_rebuild, run_rollups_add
from runs.services import run_cancel, run_retry
from runs.templatetags.runs_format import quantile
from tests.factories import AgentFactory
from tests.support.runs_journal import add_step, make_run
from tools.registry import REGISTRY, ToolContext, tool
from tools.services import tool_sync

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = NOW.date()


def principal_of(user, tenant):
    return Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))


def rollup_rows(model):
    """Every rollup row as comparable values, without ids."""
    return sorted(tuple(v for k, v in row.items() if k != "id") for row in model.objects.values())


# -- written when a run ends -------------------------------------------------------------------


@pytest.fixture
def echo_tool():
    @tool(name="test.echo", description="Echo the text.", idempotent=True)
    def echo(ctx: ToolContext, text: str) -> dict:
        return {"text": text}

    tool_sync(actor=Actor.system("test"))
    yield "test.echo"
    del REGISTRY["test.echo"]


def calls(arguments):
    return {"tool_calls": [{"name": "test__echo", "arguments": arguments}]}


def test_the_engine_rolls_up_a_run_and_its_tool_calls_when_it_ends(start_run, advance, echo_tool):
    # Given an agent loop that calls a tool well, then with arguments its schema refuses
    run = start_run("agent_loop", {"message": "echo"}, provider="scripted", tools=[echo_tool],
                    provider_config={"responses": [calls({"text": "hi"}), calls({"wrong": 1}), {"content": "Done."}]})

    # When a worker executes it to its end
    run = advance(run)

    # Then its rollups hold what its row and journal say: it succeeded, with a failed tool call
    assert (run.status, run.tool_errors) == (RunStatus.SUCCEEDED, 1)
    rollup = RunRollup.objects.get()
    assert (rollup.tenant_id, rollup.agent_id, rollup.model, rollup.day, rollup.outcome) == (
        run.tenant_id, run.agent_id, run.agent_version.model, run.created_at.date(), "succeeded_with_errors")
    assert (rollup.runs, rollup.steps, rollup.tokens_in, rollup.tokens_out, rollup.cost) == (
        1, run.step_count, run.tokens_in, run.tokens_out, run.cost)
    assert rollup.duration_ms == pytest.approx((run.finished_at - run.created_at).total_seconds() * 1000, abs=0.01)
    tools = ToolRollup.objects.get()
    assert (tools.tool, tools.calls, tools.errors) == ("test.echo", 2, 1)
    assert sum(getattr(tools, f"lt_{bound}ms") for bound in LATENCY_BOUNDS_MS) == 2


@workflow("test_rollups_sleep")
def sleeps(ctx, input):
    ctx.sleep(3600)
    return {}


def test_a_run_still_waiting_is_not_rolled_up(start_run, advance):
    assert advance(start_run("test_rollups_sleep")).status == RunStatus.WAITING

    assert not RunRollup.objects.exists() and not ToolRollup.objects.exists()


def test_cancelling_a_queued_run_rolls_it_up_as_cancelled(agent, operator):
    run = make_run(agent, status=RunStatus.QUEUED)

    run_cancel(run=run, actor=Actor.for_user(operator))

    assert list(RunRollup.objects.values_list("outcome", "runs")) == [("cancelled", 1)]


def test_a_retry_takes_the_failed_run_out_and_its_new_end_counts_once(agent, operator):
    # Given a failed run with a failed tool call, rolled up when it ended
    run = make_run(agent, status=RunStatus.FAILED, finished_at=NOW, step_count=2, tool_errors=1)
    add_step(run, 1, kind=StepKind.TOOL, name="crm.fetch")
    add_step(run, 2, kind=StepKind.TOOL, name="crm.fetch", status=StepStatus.FAILED)
    run_rollups_add(run.pk)

    # When it is retried, then ends again
    run_retry(run=run, actor=Actor.for_user(operator))
    assert RunRollup.objects.get().runs == 0 and ToolRollup.objects.get().calls == 0
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    run_rollups_add(run.pk)

    # Then it counts once, as it ended the second time (its failed step was removed by the retry)
    assert sorted(RunRollup.objects.values_list("outcome", "runs")) == [("failed", 0), ("succeeded", 1)]
    assert list(ToolRollup.objects.values_list("calls", "errors")) == [(1, 0)]


def test_a_rebuild_gives_the_rollups_written_run_by_run(world):
    before = rollup_rows(RunRollup), rollup_rows(ToolRollup)

    rollups_rebuild()

    assert (rollup_rows(RunRollup), rollup_rows(ToolRollup)) == before


def test_the_migrations_back_fill_rolls_up_the_runs_already_ended(world):
    expected = rollup_rows(RunRollup), rollup_rows(ToolRollup)
    RunRollup.objects.all().delete()
    ToolRollup.objects.all().delete()
    loader = MigrationLoader(connection)
    historical = loader.project_state(loader.graph.leaf_nodes("runs")).apps  # the models as migrations know them

    rollups_rebuild(apps=historical)

    assert (rollup_rows(RunRollup), rollup_rows(ToolRollup)) == expected


# -- the dashboard against a direct aggregation -------------------------------------------------

STATUSES = [RunStatus.SUCCEEDED] * 6 + [RunStatus.FAILED] * 2 + [
    RunStatus.CANCELLED, RunStatus.WAITING, RunStatus.RUNNING, RunStatus.QUEUED]
TOOLS = ("crm.fetch", "billing.refund", "kb.search")


def seed_runs(agents, rng: random.Random, *, runs=60):
    """Runs of `agents` over 40 days with random statuses, durations and tool calls; those that
    ended rolled up as the engine does when they end."""
    for _ in range(runs):
        agent = rng.choice(agents)
        status = rng.choice(STATUSES)
        created = NOW - dt.timedelta(days=rng.randrange(40), seconds=rng.randrange(86_400))
        ended = created + dt.timedelta(milliseconds=rng.choice([5, 80, 700, 4_000, 90_000, 7_200_000, 2e8]))
        run = make_run(agent, status=status, started_at=created, tokens_in=rng.randrange(5000),
                       tokens_out=rng.randrange(500), cost=Decimal(rng.randrange(10**5)) / 10**6,
                       waiting_reason=WaitingReason.APPROVAL if status == RunStatus.WAITING else "",
                       finished_at=ended if status in FINISHED_STATUSES else None)
        Run.objects.filter(pk=run.pk).update(created_at=created)
        for seq in range(1, rng.randrange(1, 6)):
            add_step(run, seq, kind=StepKind.TOOL, name=rng.choice(TOOLS), duration_ms=rng.choice([3, 40, 300, 2500]),
                     status=rng.choice([StepStatus.COMPLETED] * 3 + [StepStatus.FAILED]),
                     cost=Decimal(rng.randrange(100)) / 10**4)
        failed_calls = run.steps.filter(kind=StepKind.TOOL, status=StepStatus.FAILED).count()
        Run.objects.filter(pk=run.pk).update(step_count=run.steps.count(), tool_errors=failed_calls)
        if status in FINISHED_STATUSES:
            run_rollups_add(run.pk)


@pytest.fixture
def world(tenant, other_tenant, operator):
    """Two tenants, three agents in ours (two models), one in the other."""
    rng = random.Random(20251204)
    support, billing = AgentFactory(tenant=tenant, slug="support"), AgentFactory(tenant=tenant, slug="billing")
    cheap = AgentFactory(tenant=tenant, slug="cheap", version__model="small-model")
    seed_runs([support, billing, cheap], rng)
    seed_runs([AgentFactory(tenant=other_tenant, slug="support")], rng, runs=25)
    return tenant


def period_runs(tenant, days):
    first = TODAY - dt.timedelta(days=days - 1)
    return Run.objects.filter(tenant=tenant, created_at__gte=dt.datetime.combine(first, dt.time.min, dt.timezone.utc))


def true_quantile_ms(durations: list[float], q: float) -> float:
    return sorted(durations)[math.ceil(q * len(durations)) - 1]


def assert_quantile_holds(latency: Latency, durations: list[float]) -> None:
    """The bucket the dashboard read holds the quantile of the raw durations (nearest rank)."""
    for q, read in ((0.5, latency.p50), (0.95, latency.p95)):
        value = true_quantile_ms(durations, q)
        assert read.low_ms <= value and (read.high_ms is None or value < read.high_ms), (q, value, read)


@pytest.mark.parametrize("days", [7, 14, 30])
def test_run_outcomes_per_agent_equal_a_count_of_the_runs(world, operator, days):
    dash = dashboard_get(principal=principal_of(operator, world), days=days)

    expected = {}
    for slug, status, tool_errors in period_runs(world, days).values_list("agent__slug", "status", "tool_errors"):
        outcome = "succeeded_with_errors" if status == "succeeded" and tool_errors else status
        counts = expected.setdefault(slug, {})
        counts[outcome] = counts.get(outcome, 0) + 1
    for agent in dash.agents:
        counts = expected.pop(agent.slug)
        assert agent.runs.started == sum(counts.values())
        assert (agent.runs.succeeded, agent.runs.succeeded_with_errors, agent.runs.failed, agent.runs.cancelled,
                agent.runs.waiting) == tuple(counts.get(outcome, 0) for outcome in (
                    "succeeded", "succeeded_with_errors", "failed", "cancelled", "waiting"))
        assert agent.runs.active == counts.get("queued", 0) + counts.get("running", 0)
    assert expected == {}
    assert dash.runs.started == period_runs(world, days).count()


@pytest.mark.parametrize("days", [7, 30])
def test_models_tokens_cost_and_latency_equal_an_aggregation_of_the_ended_runs(world, operator, days):
    dash = dashboard_get(principal=principal_of(operator, world), days=days)

    ended = period_runs(world, days).filter(status__in=FINISHED_STATUSES)
    sums = {row["agent_version__model"]: row for row in ended.values("agent_version__model").annotate(
        n=Count("pk"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost"))}
    assert {m.model for m in dash.models} == set(sums)
    for model in dash.models:
        row = sums[model.model]
        assert (model.runs.started, model.tokens_in, model.tokens_out, model.cost) == (
            row["n"], row["tokens_in"], row["tokens_out"], row["cost"])
        durations = [(r.finished_at - r.created_at).total_seconds() * 1000
                     for r in ended.filter(agent_version__model=model.model)]
        assert_quantile_holds(model.latency, durations)
        assert model.latency.total_ms == pytest.approx(sum(durations), rel=1e-9)
    assert_quantile_holds(dash.latency, [(r.finished_at - r.created_at).total_seconds() * 1000 for r in ended])


@pytest.mark.parametrize("days", [14, 30])
def test_tool_stats_equal_an_aggregation_of_the_tool_steps_of_ended_runs(world, operator, days):
    dash = dashboard_get(principal=principal_of(operator, world), days=days)

    steps = Step.objects.filter(run__in=period_runs(world, days).filter(status__in=FINISHED_STATUSES),
                                kind=StepKind.TOOL)
    assert [t.tool for t in dash.tools] == [row["name"] for row in
                                            steps.values("name").annotate(n=Count("pk")).order_by("-n", "name")]
    for stats in dash.tools:
        mine = steps.filter(name=stats.tool)
        errors = mine.exclude(status=StepStatus.COMPLETED).count()
        assert (stats.calls, stats.errors, stats.cost) == (mine.count(), errors, mine.aggregate(c=Sum("cost"))["c"])
        assert stats.error_percent == pytest.approx(errors / mine.count() * 100)
        assert_quantile_holds(stats.latency, [s.duration_ms for s in mine])


def test_another_tenant_sees_only_its_own_runs_and_tools(world, other_tenant, django_user_model):
    viewer = django_user_model.objects.create_user("globex-viewer")
    Membership.objects.create(user=viewer, tenant=other_tenant, role="viewer")

    dash = dashboard_get(principal=principal_of(viewer, other_tenant), days=30)

    theirs = period_runs(other_tenant, 30)
    assert dash.runs.started == theirs.count() and [a.slug for a in dash.agents] == ["support"]
    assert sum(m.runs.started for m in dash.models) == theirs.filter(status__in=FINISHED_STATUSES).count()
    assert sum(t.calls for t in dash.tools) == Step.objects.filter(
        run__in=theirs.filter(status__in=FINISHED_STATUSES), kind=StepKind.TOOL).count()


def test_the_page_shows_models_tools_and_their_latencies(client, operator, world):
    client.force_login(operator)

    response = client.get(reverse("dashboard"), {"days": "30"})

    html, latency = response.content.decode(), response.context["dash"].latency
    assert "By model" in html and "small-model" in html
    assert "By tool" in html and "<code>billing.refund</code>" in html
    assert escape(f"ended runs: p50 {quantile(latency.p50)} · p95 {quantile(latency.p95)}") in html
    assert "rollups written when each run ends" in html


def test_the_page_reads_as_many_queries_for_600_runs_as_for_6(client, operator, tenant):
    client.force_login(operator)
    agents = [AgentFactory(tenant=tenant, slug=f"agent-{n}") for n in range(3)]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("dashboard"), {"days": "30"}).status_code == 200
        return len(captured)

    seed_runs(agents, random.Random(1), runs=6)
    few = queries()
    seed_runs(agents, random.Random(2), runs=594)

    assert queries() == few


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")
def test_the_dashboard_reads_runs_only_through_the_status_index(world, operator):
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        dashboard_get(principal=principal_of(operator, world), days=30)

    plans = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            if '"runs_run"' in sql:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plans.append(" ".join(row[-1] for row in cursor.fetchall()))
    assert len(plans) == 2  # the unfinished runs of the period, the waiting runs now
    # (tenant, status, created_at), not an index by tenant alone or by agent: those would read every
    # run of the tenant
    assert all(re.search(r"runs_run USING (COVERING )?INDEX run_list_status", plan) for plan in plans), plans
    assert not any(re.search(r"INDEX run_list_agent|INDEX run_list \(", plan) for plan in plans), plans


# -- reading a quantile from buckets ------------------------------------------------------------


def test_a_quantile_is_the_bucket_of_its_nearest_rank():
    latency = Latency()
    latency.counts[0], latency.counts[4], latency.counts[-1] = 50, 45, 5  # < 10 ms, [100, 250) ms, ≥ 1 d

    assert (latency.p50.low_ms, latency.p50.high_ms) == (0, 10)
    assert (latency.p95.low_ms, latency.p95.high_ms) == (100, 250)
    assert latency.quantile(0.96).high_ms is None and latency.quantile(0.96).low_ms == 86_400_000


@pytest.mark.parametrize("low, high, shown", [
    (0, 10, "< 10 ms"), (1_000, 2_500, "< 2.5 s"), (60_000, 300_000, "< 5 min"), (3_600_000, 21_600_000, "< 6 h"),
    (86_400_000, None, "≥ 1 d"),
])
def test_a_quantile_reads_as_the_bound_of_its_bucket(low, high, shown):
    assert quantile(Quantile(low, high)) == shown


def test_without_durations_there_is_no_quantile():
    assert Latency().p50 is None and Latency().mean_ms is None


# -- the command ----------------------------------------------------------------------------------


def test_the_command_rebuilds_one_tenants_rollups_and_leaves_the_others(world, other_tenant):
    theirs = rollup_rows(ToolRollup), RunRollup.objects.filter(tenant=other_tenant).count()
    RunRollup.objects.filter(tenant=world).delete()
    out = StringIO()

    call_command("rebuild_rollups", "--tenant", world.slug, stdout=out)

    ended = Run.objects.filter(tenant=world, status__in=FINISHED_STATUSES).count()
    assert out.getvalue() == f"rollups rebuilt: {ended:,} ended runs\n"
    assert sum(RunRollup.objects.filter(tenant=world).values_list("runs", flat=True)) == ended
    assert (rollup_rows(ToolRollup), RunRollup.objects.filter(tenant=other_tenant).count()) == theirs


def test_the_command_names_a_tenant_it_does_not_know():
    with pytest.raises(CommandError, match="no tenant 'nope'"):
        call_command("rebuild_rollups", "--tenant", "nope")
