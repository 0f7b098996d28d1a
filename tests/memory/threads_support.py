"""Helpers of the thread and memory-use tests."""

from runs.engine import execute_run
from runs.models import Run, Step, StepKind


def execute(run: Run) -> Run:
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def model_messages(request) -> list[dict]:
    """The messages a chat request recorded by the local server sent."""
    return request.body["messages"]


def memory_steps(run: Run) -> list[Step]:
    return list(Step.objects.filter(run=run, kind=StepKind.MEMORY).order_by("seq"))
