"""django-q2 entry points: thin, idempotent, loading by id."""

from .engine import execute_run as _execute_run
from .services import sweep as _sweep


def execute_run(run_id: str) -> str:
    return _execute_run(run_id)


def sweep() -> dict:
    return _sweep()
