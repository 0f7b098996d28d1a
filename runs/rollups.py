"""Rollups of ended runs: what the dashboard reads instead of the runs and their steps.

A run is counted once, when it ends, in the transaction that ends it: `run_rollups_add` adds it
to its RunRollup row (tenant, agent, model, UTC day of creation, outcome, error code), its tool
calls to their ToolRollup rows and its model calls to their ModelCallRollup rows, with one
INSERT … SELECT … ON CONFLICT DO UPDATE each, read from the run's own row and journal, so the figures are those of the database, never of a worker's memory.
A retry takes the run back out (`sign=-1`) before it runs again. `rollups_rebuild` recomputes
every rollup from the runs (the migration's back-fill, and a repair after a restore).

The statements are compiled by the ORM once per database and kept; a call binds only the run's id.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps as global_apps
from django.db import connections, router, transaction
from django.db.models import Case, CharField, Count, DecimalField, F, FloatField, Func, Q, QuerySet, Sum, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Substr, TruncDate

from agentops import db

from .models import (FINISHED_STATUSES, LATENCY_BOUNDS_MS, LATENCY_BUCKETS, ModelCallRollup, Run, RunOutcome,
                     RunRollup, RunStatus, Step, StepKind, StepStatus, ToolRollup)


def run_outcome():
    """The outcome an ended run is counted under, as an expression on Run: its status, except
    `succeeded_with_errors` for a run that succeeded although some of its tool calls failed (the
    expression of `runs.models.run_outcome`)."""
    return Case(When(status=RunStatus.SUCCEEDED, tool_errors__gt=0, then=Value(RunOutcome.SUCCEEDED_WITH_ERRORS)),
                default=F("status"), output_field=CharField())


def run_error_code():
    """A failed run's error code as an expression on Run (the first 100 characters, as
    RunRollup.error_code keeps it); empty for any other status."""
    code = Substr(Coalesce(KT("error__code"), Value("")), 1, 100)
    return Case(When(status=RunStatus.FAILED, then=code), default=Value(""), output_field=CharField())


class MillisBetween(Func):
    """Milliseconds from `start` to `end` (two datetime expressions), as a float."""

    output_field = FloatField()

    def __init__(self, end, start):
        super().__init__(end, start)

    def as_sql(self, compiler, connection, **extra):
        (end, end_params), (start, start_params) = (compiler.compile(e) for e in self.source_expressions)
        params = [*end_params, *start_params]
        if connection.vendor == "sqlite":
            # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: whole seconds from strftime, the
            # microseconds from the text. Exact, and native (django_timestamp_diff is a Python
            # callback, called once per bucket of every row).
            sql = (f"(((strftime('%%s', {end}) - strftime('%%s', {start})) * 1000000"
                   f" + CAST(substr({end}, 21) AS INTEGER) - CAST(substr({start}, 21) AS INTEGER)) / 1000.0)")
            return sql, params * 2
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000.0)", params


def _histogram(sign: int) -> dict:
    """The duration's sum and a count per latency bucket (a NULL duration counts in none)."""
    lower = [None, *LATENCY_BOUNDS_MS]
    upper = [*LATENCY_BOUNDS_MS, None]
    buckets = {}
    for name, low, high in zip(LATENCY_BUCKETS, lower, upper):
        condition = Q(_duration__isnull=False)
        if low is not None:
            condition &= Q(_duration__gte=low)
        if high is not None:
            condition &= Q(_duration__lt=high)
        buckets[name] = Sum(Case(When(condition, then=Value(sign)), default=Value(0)))
    return {"duration_ms": Coalesce(Sum("_duration"), Value(0.0)) * sign, **buckets}


MEASURE_PREFIX = "m_"


def _measures(**expressions) -> dict:
    """Aggregates named after their rollup's columns, prefixed: an annotation may not take the
    name of a field of the model it reads (Run.tokens_in, Step.cost)."""
    return {MEASURE_PREFIX + name: expression for name, expression in expressions.items()}


def _utc_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=dt.timezone.utc)


def _money(expression) -> Coalesce:
    return Coalesce(Sum(expression), Value(0), output_field=DecimalField(max_digits=16, decimal_places=6))


def run_rollup_rows(runs: QuerySet, *, sign: int = 1) -> QuerySet:
    """RunRollup rows (as values) of the ended `runs`, multiplied by `sign`."""
    return (
        runs.filter(status__in=FINISHED_STATUSES)
        .annotate(_duration=MillisBetween(F("finished_at"), F("created_at")))
        .values("tenant_id", "agent_id", model=F("agent_version__model"), day=_utc_day("created_at"),
                outcome=run_outcome(), error_code=run_error_code())
        .annotate(**_measures(runs=Count("pk") * sign, steps=Sum("step_count") * sign, tokens_in=Sum("tokens_in") * sign,
                              tokens_out=Sum("tokens_out") * sign, cost=_money("cost") * sign, **_histogram(sign)))
        .order_by()
    )


def tool_rollup_rows(steps: QuerySet, *, sign: int = 1) -> QuerySet:
    """ToolRollup rows (as values) of the tool calls among `steps` (of ended runs), times `sign`."""
    return _step_rollup_rows(steps, kind=StepKind.TOOL, name="tool", sign=sign)


def model_call_rollup_rows(steps: QuerySet, *, sign: int = 1) -> QuerySet:
    """ModelCallRollup rows (as values) of the model calls among `steps` (of ended runs), times `sign`."""
    return _step_rollup_rows(steps, kind=StepKind.LLM, name="model", sign=sign)


def _step_rollup_rows(steps: QuerySet, *, kind: str, name: str, sign: int) -> QuerySet:
    """Rollup rows of the steps of `kind`, keyed by the step's name as the column `name` (prefixed
    like the measures: Step has a `model` field of its own)."""
    return (
        steps.filter(kind=kind)
        .annotate(_duration=MillisBetween(F("finished_at"), F("started_at")))
        .values(tenant_id=F("run__tenant_id"), agent_id=F("run__agent_id"), **{MEASURE_PREFIX + name: F("name")},
                day=_utc_day("run__created_at"))
        .annotate(**_measures(
            calls=Count("pk") * sign,
            errors=Sum(Case(When(~Q(status=StepStatus.COMPLETED), then=Value(sign)), default=Value(0))),
            cost=_money("cost") * sign, **_histogram(sign)))
        .order_by()
    )


def _upsert(model, rows: QuerySet, connection) -> tuple[str, list]:
    """INSERT `rows` (a values() query of `model`'s columns) into `model`, adding each measure
    to the row already there for the same key."""
    select, params = rows.query.get_compiler(connection=connection).as_sql()
    aliases = [*rows.query.values_select, *rows.query.annotation_select]
    columns = [model._meta.get_field(alias.removeprefix(MEASURE_PREFIX)).column for alias in aliases]
    (constraint,) = model._meta.constraints
    keys = [model._meta.get_field(name).column for name in constraint.fields]
    q, table = connection.ops.quote_name, connection.ops.quote_name(model._meta.db_table)
    adds = ", ".join(f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}" for c in columns if c not in keys)
    sql = (f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) {select} "
           f"ON CONFLICT ({', '.join(q(c) for c in keys)}) DO UPDATE SET {adds}")
    return sql, list(params)


class _RunStatements:
    """The three upserts of one run, compiled once per database and sign with a stand-in id."""

    STAND_IN = "00000000-0000-0000-0000-00000000beef"

    def __init__(self, connection, sign: int):
        stand_in = Run._meta.pk.get_db_prep_value(Run._meta.pk.to_python(self.STAND_IN), connection)
        self.statements = []
        for model, rows in ((RunRollup, run_rollup_rows(Run.objects.filter(pk=self.STAND_IN), sign=sign)),
                            (ToolRollup, tool_rollup_rows(Step.objects.filter(run_id=self.STAND_IN), sign=sign)),
                            (ModelCallRollup, model_call_rollup_rows(Step.objects.filter(run_id=self.STAND_IN),
                                                                     sign=sign))):
            sql, params = _upsert(model, rows, connection)
            self.statements.append((sql, params, [i for i, p in enumerate(params) if p == stand_in]))

    def run(self, connection, run_id) -> None:
        value = Run._meta.pk.get_db_prep_value(run_id, connection)
        for sql, params, slots in self.statements:
            bound = list(params)
            for slot in slots:
                bound[slot] = value
            db.execute(connection, sql, bound)


_statements: dict[tuple[str, int], _RunStatements] = {}


def run_rollups_add(run_id, *, sign: int = 1) -> None:
    """Add the ended run `run_id` to the rollups (`sign=-1`: take it out again). Call inside the
    transaction that ends the run (or, with -1, that reopens it), after the run's row and its
    steps are written: nothing is added for a run that has not ended."""
    connection = connections[router.db_for_write(RunRollup)]
    key = (connection.vendor, sign)
    if key not in _statements:
        _statements[key] = _RunStatements(connection, sign)
    _statements[key].run(connection, run_id)


def rollups_rebuild(*, tenant_ids=None, apps=global_apps, using: str | None = None) -> None:
    """Recompute the rollups of `tenant_ids` (default: every tenant) from their ended runs, in one
    transaction. `apps`: the migration's historical models, when a migration calls it.

    Runs that end meanwhile wait for it (on PostgreSQL the rollup tables are locked against
    writers first; SQLite has one writer), then add themselves: none is counted twice or lost.
    """
    run_model, step_model = apps.get_model("runs", "Run"), apps.get_model("runs", "Step")
    rollup_models = tuple(apps.get_model("runs", name) for name in ("RunRollup", "ToolRollup", "ModelCallRollup"))
    using = using or router.db_for_write(run_model)
    runs = run_model.objects.using(using).all()
    if tenant_ids is not None:
        runs = runs.filter(tenant_id__in=tenant_ids)
    ended_steps = step_model.objects.using(using).filter(run__in=runs.filter(status__in=FINISHED_STATUSES))
    sources = (run_rollup_rows(runs), tool_rollup_rows(ended_steps), model_call_rollup_rows(ended_steps))
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in rollup_models:
                    cursor.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} "
                                   "IN SHARE ROW EXCLUSIVE MODE")
        for model, rows in zip(rollup_models, sources):
            stale = model.objects.using(using).all()
            if tenant_ids is not None:
                stale = stale.filter(tenant_id__in=tenant_ids)
            stale.delete()
            with connection.cursor() as cursor:
                cursor.execute(*_upsert(model, rows, connection))
