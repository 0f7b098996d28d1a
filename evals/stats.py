"""Statistics of an eval run, and the comparison of two.

The gate's rule: a case is judged on its repeats. It **passes** when a strict majority of its
repeats pass (the spread is shown: passes/repeats and pass^k, the chance that k = repeats tries
all pass, which is 1 only when every repeat passed). A case whose repeats disagree is **flaky**:
reported as such, counted by its majority, and never called a regression or an improvement
against a baseline — only a case that passed (or failed) on every repeat changes verdict.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

PASSED, FAILED, FLAKY = "passed", "failed", "flaky"
REGRESSED, IMPROVED, UNCHANGED, NEW = "regressed", "improved", "unchanged", "new"
CHANGES = (REGRESSED, IMPROVED, UNCHANGED, FLAKY, NEW)  # the order reports list them in


@dataclass(frozen=True)
class CaseStats:
    case_id: int
    name: str
    repeats: int
    passes: int
    mean_score: float
    cost: float  # mean per repeat
    latency_ms: float | None  # median of the repeats
    errors: int

    @property
    def pass_rate(self) -> float:
        return self.passes / self.repeats if self.repeats else 0.0

    @property
    def pass_all(self) -> float:
        """pass^k for k = repeats: 1 when every repeat passed."""
        return 1.0 if self.repeats and self.passes == self.repeats else 0.0

    @property
    def verdict(self) -> str:
        if self.passes == self.repeats:
            return PASSED
        return FAILED if self.passes == 0 else FLAKY

    @property
    def passed(self) -> bool:
        """The majority decides."""
        return self.passes * 2 > self.repeats

    def as_dict(self) -> dict:
        return {"case": self.case_id, "name": self.name, "repeats": self.repeats, "passes": self.passes,
                "pass_rate": round(self.pass_rate, 4), "pass_all": self.pass_all, "verdict": self.verdict,
                "passed": self.passed, "mean_score": round(self.mean_score, 4), "cost": round(self.cost, 6),
                "latency_ms": self.latency_ms, "errors": self.errors}


def case_stats(results) -> list[CaseStats]:
    """Per case, from its scored results (EvalResult rows with `case` loaded), in case order."""
    by_case = defaultdict(list)
    for result in results:
        by_case[result.case].append(result)
    return [_one_case(case, rows) for case, rows in by_case.items()]


def _one_case(case, rows) -> CaseStats:
    latencies = [row.latency_seconds * 1000 for row in rows if row.latency_seconds is not None]
    return CaseStats(
        case_id=case.pk, name=case.name or f"case {case.pk}", repeats=len(rows),
        passes=sum(1 for row in rows if row.passed), mean_score=statistics.fmean(row.score or 0.0 for row in rows),
        cost=float(sum((row.cost for row in rows), Decimal(0))) / len(rows),
        latency_ms=round(statistics.median(latencies), 1) if latencies else None,
        errors=sum(1 for row in rows if row.error),
    )


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values`; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(len(ordered) * fraction) - 1)], 1)


def summary(results) -> dict:
    """An eval run's summary (EvalRun.summary) from its results, comparison counts excluded."""
    results = list(results)
    cases = case_stats(results)
    latencies = [row.latency_seconds * 1000 for row in results if row.latency_seconds is not None]
    return {
        "cases": len(cases),
        "results": len(results),
        "passed_cases": sum(1 for case in cases if case.passed),
        "pass_rate": round(sum(1 for case in cases if case.passed) / len(cases), 4) if cases else 0.0,
        "result_pass_rate": round(sum(1 for row in results if row.passed) / len(results), 4) if results else 0.0,
        "mean_score": round(statistics.fmean(row.score or 0.0 for row in results), 4) if results else 0.0,
        "score_by_assertion": _score_by_assertion(results),
        "flaky": sum(1 for case in cases if case.verdict == FLAKY),
        "errors": sum(1 for row in results if row.error),
        "cost": str(sum((row.cost for row in results), Decimal(0))),
        "judge_cost": str(sum((Decimal(a.get("judge_cost", "0")) for row in results for a in row.assertions),
                              Decimal(0))),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "case_stats": [case.as_dict() for case in cases],
    }


def _score_by_assertion(results) -> dict:
    scores = defaultdict(list)
    for row in results:
        for assertion in row.assertions:
            scores[assertion["type"]].append(assertion["score"])
    return {kind: round(statistics.fmean(values), 4) for kind, values in sorted(scores.items())}


def case_change(baseline: dict | None, current: dict) -> str:
    """How a case moved from the baseline's stats to the current ones (as_dict() forms)."""
    if baseline is None:
        return NEW
    if FLAKY in (baseline["verdict"], current["verdict"]):
        return FLAKY  # noise on one side: not a change anyone can claim
    if baseline["verdict"] == current["verdict"]:
        return UNCHANGED
    return REGRESSED if current["verdict"] == FAILED else IMPROVED


def change_counts(comparison: dict) -> list[tuple[str, int]]:
    """The comparison's non-zero counts in CHANGES order: a stored summary does not keep its keys'
    order (PostgreSQL's jsonb sorts them)."""
    counts = comparison.get("counts", {})
    return [(change, counts[change]) for change in CHANGES if counts.get(change)]


def comparison(baseline_summary: dict, current_summary: dict, *, baseline_id=None) -> dict:
    """Case by case (matched by case id) and overall deltas of `current` against `baseline`."""
    before = {case["case"]: case for case in baseline_summary.get("case_stats", [])}
    cases = [{"case": case["case"], "name": case["name"], "change": case_change(before.get(case["case"]), case),
              "before": before.get(case["case"], {}).get("verdict"), "after": case["verdict"],
              "cost_delta": _delta(before.get(case["case"], {}).get("cost"), case["cost"]),
              "latency_delta_ms": _delta(before.get(case["case"], {}).get("latency_ms"), case["latency_ms"])}
             for case in current_summary.get("case_stats", [])]
    counts = {change: sum(1 for case in cases if case["change"] == change) for change in CHANGES}
    return {
        "baseline": baseline_id,
        "counts": counts,
        "pass_rate_delta": _delta(baseline_summary.get("pass_rate"), current_summary.get("pass_rate")),
        "cost_delta": _delta(_number(baseline_summary.get("cost")), _number(current_summary.get("cost"))),
        "latency_p50_delta_ms": _delta(baseline_summary.get("latency_p50_ms"), current_summary.get("latency_p50_ms")),
        "latency_p95_delta_ms": _delta(baseline_summary.get("latency_p95_ms"), current_summary.get("latency_p95_ms")),
        "cases": cases,
    }


def _number(value) -> float | None:
    return float(value) if value is not None else None


def _delta(before, after) -> float | None:
    if before is None or after is None:
        return None
    return round(float(after) - float(before), 6)


def gate(summary: dict, *, min_pass_rate: float | None, fail_on_regression: bool) -> list[str]:
    """Why the CI gate fails for an eval run's summary (empty: it holds). Without `min_pass_rate`
    every case must pass (by the majority of its repeats); with it, the pass rate must reach it.
    With `fail_on_regression`, any case regressed against the baseline fails it (flaky ones never)."""
    reasons = []
    if min_pass_rate is None:
        failed = [case["name"] for case in summary.get("case_stats", []) if not case["passed"]]
        if failed:
            reasons.append(f"{len(failed)} case(s) failed: {', '.join(failed)}")
    elif summary.get("pass_rate", 0.0) < min_pass_rate:
        reasons.append(f"pass rate {summary.get('pass_rate', 0.0):.2%} is below {min_pass_rate:.2%}")
    if fail_on_regression and summary.get("regressed"):
        regressed = [case["name"] for case in summary["comparison"]["cases"] if case["change"] == REGRESSED]
        reasons.append(f"{len(regressed)} case(s) regressed against eval run {summary['comparison'].get('baseline')}: "
                       + ", ".join(regressed))
    return reasons
