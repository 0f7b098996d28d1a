"""django-q2 entry points: thin, idempotent, loading by id."""

from django.conf import settings

from .engine import execute_queued, execute_run as _execute_run
from .lease import new_worker_id
from .services import sweep as _sweep


def execute_run(run_id: str) -> str:
    """Execute the run, then work off the queue for up to RUN_DRAIN_SECONDS (see execute_queued)."""
    owner = new_worker_id()
    outcome = _execute_run(run_id, owner=owner)
    execute_queued(budget_seconds=float(getattr(settings, "RUN_DRAIN_SECONDS", 5)), owner=owner)
    return outcome


def sweep() -> dict:
    return _sweep()
