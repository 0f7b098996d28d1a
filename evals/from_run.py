"""A production run proposed as an eval case: what it was asked, what it answered, which tools it
called. The proposal fills the "Add to eval suite" form, where a person edits it before saving."""

from __future__ import annotations

from dataclasses import dataclass, field

from runs.models import Run, Step, StepKind

# An answer up to this long is proposed verbatim (`equals`); of a longer one, its longest line
# (`icontains`): the one that carries the most content, and survives rewording elsewhere.
EQUALS_MAX_LENGTH = 200


@dataclass(frozen=True)
class CaseProposal:
    name: str
    message: str
    input: dict | None
    expected: object
    assertions: list = field(default_factory=list)


def run_tool_names(*, run: Run) -> list[str]:
    """The tools `run` called, in order (one query; the caller owns the run)."""
    return list(Step.objects.filter(run=run, kind=StepKind.TOOL).order_by("seq").values_list("name", flat=True))


def case_proposal(*, run: Run, tool_names: list[str]) -> CaseProposal:
    """The case a finished run suggests: its message (or input), its answer as the expected
    output with an assertion that checks it, and the tools it called as a trajectory."""
    message, run_input = _request_of(run)
    answer = _answer_of(run)
    assertions = [_answer_assertion(answer)] if answer not in (None, "") else []
    if tool_names:
        assertions.append({"type": "trajectory", "value": tool_names})
    title = message or run.agent.slug
    return CaseProposal(name=title[:80], message=message, input=run_input, expected=answer, assertions=assertions)


def _request_of(run: Run) -> tuple[str, dict | None]:
    """A chat run's message, or the structured input of any other run."""
    data = run.input if isinstance(run.input, dict) else {}
    if set(data) == {"message"} and isinstance(data["message"], str):
        return data["message"], None
    return "", data


def _answer_of(run: Run):
    """The agent loop's answer text, else the whole output (None for a run that did not succeed)."""
    output = run.output
    if isinstance(output, dict) and isinstance(output.get("answer"), str):
        return output["answer"]
    return output


def _answer_assertion(answer) -> dict:
    if not isinstance(answer, str):
        return {"type": "equals", "value": answer}
    if len(answer) <= EQUALS_MAX_LENGTH:
        return {"type": "equals", "value": answer}
    lines = [line.strip().lstrip("-* ").strip() for line in answer.splitlines()]
    return {"type": "icontains", "value": max(lines, key=len)[:EQUALS_MAX_LENGTH]}
