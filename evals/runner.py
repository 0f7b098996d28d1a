"""What the runner does with one case: the run it starts, and the outcome its assertions grade.

The services (evals/services.py) decide when; this module knows how a case becomes a run's input
and metadata, and how an ended run becomes an `Outcome`.
"""

from __future__ import annotations

from runs.journal import collect_refs, load_blobs, resolve
from runs.models import EVAL_METADATA_KEY, Run, RunStatus, Step, StepKind, StepStatus
from tools.gateway import RECORDED_RESULTS_KEY

from .assertions import Outcome, ToolCallMade, answer_text
from .models import EvalCase, EvalResult
from .templating import render

def case_vars(case: EvalCase) -> dict:
    return {**(case.suite.default_vars or {}), **(case.vars or {})}


def case_input(case: EvalCase) -> dict:
    """The run's input: the message with its vars filled in, else the input (vars filled in too)."""
    variables = case_vars(case)
    if case.message:
        return {"message": render(case.message, variables)}
    return render(case.input, variables) if isinstance(case.input, dict) else {}


def case_metadata(result: EvalResult) -> dict:
    """The run's metadata: which eval run, case and repeat it is (the runs list filters on it), and
    the case's recorded tool results, which the tool gateway serves instead of calling the tools."""
    metadata = {EVAL_METADATA_KEY: {"eval_run": result.eval_run_id, "case": result.case_id,
                                    "repeat": result.repeat_index}}
    if result.case.tool_results:
        metadata[RECORDED_RESULTS_KEY] = result.case.tool_results
    return metadata


def case_assertions(case: EvalCase) -> list[dict]:
    return [*(case.suite.default_assertions or []), *(case.assertions or [])]


def waiting_approval_seq(run: Run) -> tuple[int, int] | None:
    """(seq of the approval step the run waits on, how many approvals came before it), or None."""
    approvals = list(Step.objects.filter(run=run, kind=StepKind.APPROVAL).order_by("seq").values_list("seq", "status"))
    for index, (seq, status) in enumerate(approvals):
        if status == StepStatus.WAITING:
            return seq, index
    return None


def run_outcome(run: Run, case: EvalCase) -> Outcome:
    """The ended run as the assertions see it: its answer, tool calls in order, steps, cost, latency."""
    tool_steps = list(Step.objects.filter(run=run, kind=StepKind.TOOL).order_by("seq").values_list(
        "name", "input", "status"))
    refs: set[str] = set()
    for _, step_input, _ in tool_steps:
        collect_refs(step_input, refs)
    blobs = load_blobs(refs) if refs else {}
    calls = tuple(ToolCallMade(name, (resolve(step_input, blobs) or {}).get("arguments") or {}, status)
                  for name, step_input, status in tool_steps)
    duration = run.duration_seconds
    return Outcome(
        output=run.output, text=answer_text(run.output) if run.status == RunStatus.SUCCEEDED else "",
        status=run.status, error=run.error, tool_calls=calls, steps=run.step_count, cost=float(run.cost),
        latency_ms=duration * 1000 if duration is not None else None, vars=case_vars(case),
        question=case_input(case).get("message", ""), tenant_id=run.tenant_id,
    )
