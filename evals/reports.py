"""An eval run's report as a table (people), JSON (scripts) or JUnit XML (CI test reports)."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from . import stats
from .models import EvalRun
from .selectors import eval_results

FORMATS = ("table", "json", "junit")


def report(eval_run: EvalRun, *, format: str, gate_failures: list[str]) -> str:
    return {"table": _table, "json": _json, "junit": _junit}[format](eval_run, gate_failures)


def _json(eval_run: EvalRun, gate_failures: list[str]) -> str:
    results = [{"case": result.case_id, "name": result.case.name, "repeat": result.repeat_index,
                "run": str(result.run_id) if result.run_id else None, "status": result.status,
                "passed": result.passed, "score": result.score, "cost": str(result.cost),
                "latency_seconds": result.latency_seconds, "error": result.error, "assertions": result.assertions}
               for result in eval_results(eval_run)]
    return json.dumps({"eval_run": eval_run.pk, "suite": eval_run.suite.name, "status": eval_run.status,
                       "agent_version": eval_run.agent_version.number, "repeats": eval_run.repeats,
                       "baseline": eval_run.baseline_id, "summary": eval_run.summary, "error": eval_run.error,
                       "gate": {"passed": not gate_failures, "failures": gate_failures}, "results": results},
                      indent=2, ensure_ascii=False) + "\n"


def _table(eval_run: EvalRun, gate_failures: list[str]) -> str:
    summary = eval_run.summary
    changes = {case["case"]: case["change"] for case in summary.get("comparison", {}).get("cases", [])}
    lines = [f"eval run {eval_run.pk}: suite {eval_run.suite.name}, {eval_run.suite.agent.slug} "
             f"v{eval_run.agent_version.number}, {eval_run.repeats} repeat(s) — {eval_run.status}",
             f"{'case':<40} {'verdict':<8} {'passes':>7} {'score':>6} {'cost':>10} {'p50 ms':>8}  change"]
    for case in summary.get("case_stats", []):
        lines.append(f"{case['name'][:40]:<40} {case['verdict']:<8} {case['passes']:>3}/{case['repeats']:<3} "
                     f"{case['mean_score']:>6.2f} {case['cost']:>10.6f} {case['latency_ms'] or 0:>8.0f}  "
                     f"{changes.get(case['case'], '')}")
    if summary:
        lines.append(f"pass rate {summary['pass_rate']:.2%} ({summary['passed_cases']}/{summary['cases']} cases), "
                     f"flaky {summary['flaky']}, errors {summary['errors']}, cost {summary['cost']} USD, "
                     f"latency p50 {summary['latency_p50_ms']} ms p95 {summary['latency_p95_ms']} ms")
    if "comparison" in summary:
        counts = stats.change_counts(summary["comparison"])
        lines.append(f"against eval run {eval_run.baseline_id}: " + ", ".join(f"{n} {k}" for k, n in counts))
    if eval_run.error:
        lines.append(f"error: {eval_run.error.get('message')}")
    lines.append("gate: " + ("passed" if not gate_failures else "FAILED — " + "; ".join(gate_failures)))
    return "\n".join(lines) + "\n"


def _junit(eval_run: EvalRun, gate_failures: list[str]) -> str:
    """One <testcase> per case, failed when the majority of its repeats failed; a flaky case says so."""
    cases = eval_run.summary.get("case_stats", [])
    explanations = _explanations(eval_run)
    suite = ElementTree.Element("testsuite", name=eval_run.suite.name, tests=str(len(cases)),
                                failures=str(sum(1 for case in cases if not case["passed"])),
                                errors=str(sum(1 for case in cases if case["errors"] == case["repeats"])),
                                time=f"{sum((case['latency_ms'] or 0) for case in cases) / 1000:.3f}")
    for case in cases:
        element = ElementTree.SubElement(suite, "testcase", classname=eval_run.suite.name, name=case["name"],
                                         time=f"{(case['latency_ms'] or 0) / 1000:.3f}")
        if not case["passed"]:
            failure = ElementTree.SubElement(element, "failure", message=f"{case['passes']}/{case['repeats']} "
                                                                         "repeats passed")
            failure.text = "\n".join(explanations.get(case["case"], []))
        if case["verdict"] == "flaky":
            ElementTree.SubElement(element, "system-out").text = (
                f"flaky: {case['passes']}/{case['repeats']} repeats passed")
    root = ElementTree.Element("testsuites", name=f"eval run {eval_run.pk}")
    root.append(suite)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _explanations(eval_run: EvalRun) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for result in eval_results(eval_run):
        lines = [f"#{result.repeat_index} {a['type']}: {a['explanation']}" for a in result.assertions
                 if not a["passed"]]
        if result.error:
            lines.append(f"#{result.repeat_index} {result.error.get('code')}: {result.error.get('message')}")
        found.setdefault(result.case_id, []).extend(lines)
    return found
