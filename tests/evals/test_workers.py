"""An eval run started as the API starts it: its passes and its cases run on a real worker."""

import time

import pytest

from evals.models import EvalRunStatus
from evals.services import run_eval
from runs.models import RunStatus
from tests.support.workers import running_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_the_cases_and_scores_them(principal, refund_suite, settings):
    eval_run = run_eval(principal=principal, suite=refund_suite, repeat=2)
    seen_progress = set()

    with running_worker(EVAL_CONCURRENCY="2") as worker:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            eval_run.refresh_from_db()
            seen_progress.add(eval_run.done)
            if eval_run.is_finished:
                break
            time.sleep(0.2)
        output = worker.output()

    assert eval_run.status == EvalRunStatus.SUCCEEDED, output
    assert eval_run.summary["pass_rate"] == 1.0 and eval_run.done == eval_run.total == 4
    results = list(eval_run.results.select_related("run"))
    assert all(result.run.status == RunStatus.SUCCEEDED and result.run.executions >= 1 for result in results)
    assert seen_progress - {0, 4}, "progress was readable while it ran"
