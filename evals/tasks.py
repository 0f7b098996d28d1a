"""django-q2 entry points of evaluations: thin, idempotent."""

from .services import eval_run_advance as advance
from .services import eval_run_schedule_next, eval_runs_resume


def eval_run_advance(eval_run_id) -> None:
    """One pass over the eval run; the next is queued until it ends. Running twice does no harm."""
    if not advance(eval_run_id=eval_run_id):
        eval_run_schedule_next(eval_run_id)


def eval_runs_resume_stale() -> int:
    """Every minute (a django-q2 schedule): eval runs whose chain of passes was lost go on."""
    return len(eval_runs_resume())
