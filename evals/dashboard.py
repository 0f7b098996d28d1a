"""The reads of the /evals/ pages: suites with their latest pass rate, and a suite's history across
agent versions (the chart, its table and the case × version matrix). A fixed number of queries
each, whatever the number of suites, cases or eval runs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery

from agentops.tenancy.principal import Principal

from .models import EvalResult, EvalRun, EvalRunStatus, EvalSuite
from .selectors import eval_case_list, eval_results, tenant_suites

# The suite page reads the latest eval runs up to this many, and shows this many versions.
HISTORY_RUNS = 200
VERSIONS_SHOWN = 12


def cell_state(passes: list[bool]) -> str:
    """A case's mark in one eval run: `pass`, `fail`, `flaky` (passed some repeats, failed others) or
    `none` (not run)."""
    if not passes:
        return "none"
    if all(passes):
        return "pass"
    return "fail" if not any(passes) else "flaky"


@dataclass(frozen=True)
class SuiteRow:
    suite: EvalSuite
    latest: EvalRun | None


def suite_overview(*, principal: Principal) -> list[SuiteRow]:
    """The tenant's suites by name, each with its case count and its latest eval run. Two queries."""
    latest = EvalRun.objects.filter(suite=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    suites = list(tenant_suites(principal).select_related("agent")
                  .annotate(case_count=Count("cases"), latest_run_id=Subquery(latest)).order_by("name"))
    runs = EvalRun.objects.select_related("agent_version").in_bulk([s.latest_run_id for s in suites if s.latest_run_id])
    return [SuiteRow(suite, runs.get(suite.latest_run_id)) for suite in suites]


@dataclass(frozen=True)
class VersionColumn:
    """A version's latest finished eval run, and its figures as the runner summed them up: the
    cases that passed (by the majority of their repeats) and their share in percent."""

    eval_run: EvalRun

    @property
    def label(self) -> str:
        return f"v{self.eval_run.agent_version.number}"

    @property
    def pass_rate(self) -> float | None:
        rate = self.eval_run.summary.get("pass_rate")
        return None if rate is None else round(100 * rate, 1)

    @property
    def passed(self) -> int | None:
        return self.eval_run.summary.get("passed_cases")

    @property
    def cases(self) -> int | None:
        return self.eval_run.summary.get("cases")


@dataclass(frozen=True)
class MatrixRow:
    case: object
    cells: list[str]  # one state per column, see cell_state


@dataclass(frozen=True)
class SuiteHistory:
    columns: list[VersionColumn]  # oldest version first
    rows: list[MatrixRow]
    recent: list[EvalRun]  # the latest eval runs, newest first, finished or not

    def chart_points(self) -> list[dict]:
        return [{"label": column.label, "pass_rate": column.pass_rate} for column in self.columns]


def suite_history(*, suite: EvalSuite, recent: int = 10) -> SuiteHistory:
    """Per agent version, the latest finished eval run of `suite` and how each case fared in it.
    Three queries: the cases, the latest eval runs, the results of the runs shown."""
    cases = eval_case_list(suite=suite)
    runs = list(suite.eval_runs.select_related("agent_version", "created_by")
                .order_by("-created_at", "-pk")[:HISTORY_RUNS])
    latest_per_version = {}
    for run in runs:
        if run.status == EvalRunStatus.SUCCEEDED:
            latest_per_version.setdefault(run.agent_version.number, run)
    shown = [latest_per_version[number] for number in sorted(latest_per_version)[-VERSIONS_SHOWN:]]
    results = defaultdict(list)
    for result in EvalResult.objects.filter(eval_run__in=shown).values("eval_run_id", "case_id", "passed"):
        results[result["eval_run_id"]].append(result)
    columns = [VersionColumn(run) for run in shown]
    passes = defaultdict(list)  # (eval run, case) -> [passed, ...] one per repeat
    for run_id, run_results in results.items():
        for result in run_results:
            passes[run_id, result["case_id"]].append(bool(result["passed"]))
    rows = [MatrixRow(case, [cell_state(passes[column.eval_run.pk, case.pk]) for column in columns])
            for case in cases]
    return SuiteHistory(columns, rows, runs[:recent])


@dataclass(frozen=True)
class CaseResults:
    case: object
    results: list  # one per repeat
    change: str = ""  # against the baseline: regressed, improved, unchanged, flaky or new

    @property
    def state(self) -> str:
        return cell_state([bool(result.passed) for result in self.results if result.passed is not None])

    @property
    def shown(self):
        """The repeat whose assertions the page shows: the first that failed, else the first."""
        return next((result for result in self.results if result.passed is False), self.results[0])


def eval_run_results(*, eval_run: EvalRun) -> list[CaseResults]:
    """The eval run's results grouped by case, in the suite's order, with each case's change
    against the baseline (from the comparison the runner summed up at the end). One query."""
    changes = {case["case"]: case["change"] for case in eval_run.summary.get("comparison", {}).get("cases", [])}
    grouped: dict[int, CaseResults] = {}
    for result in eval_results(eval_run):
        grouped.setdefault(result.case_id, CaseResults(result.case, [], changes.get(result.case_id, ""))
                           ).results.append(result)
    return list(grouped.values())
