"""django-q2 entry points: thin, idempotent, loading by id."""

from django.conf import settings

from .engine import execute_queued, execute_run as _execute_run
from .engine.lease import new_worker_id
from .retention import payloads_purge
from .services import sweep as _sweep
from .telemetry import run_trace_export
from .waits import timer_fire


def execute_run(run_id: str) -> str:
    """Execute the run, then work off the queue for up to RUN_DRAIN_SECONDS (see execute_queued)."""
    owner = new_worker_id()
    outcome = _execute_run(run_id, owner=owner)
    execute_queued(budget_seconds=settings.RUN_DRAIN_SECONDS, owner=owner)
    return outcome


def fire_timer(run_id: str) -> str:
    """A timer's own task, delivered when it is due (see waits.timer_schedule)."""
    return "resumed" if timer_fire(run_id=run_id) else "not waiting on a due timer"


def sweep() -> dict:
    return _sweep()


def purge_payloads() -> dict:
    """The daily retention purge (schedule `agentops.payload-purge`)."""
    return payloads_purge()


def export_run_trace(run_id: str) -> str:
    """The ended run's trace to the OpenTelemetry collector (runs/telemetry.py)."""
    return "exported" if run_trace_export(run_id=run_id) else "not exported"
