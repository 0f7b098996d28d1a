"""The verbs of evaluations: create suites and add cases, start an eval run, advance it, compare two.

An eval run advances by passes (`eval_run_advance`), each safe to run twice or in two processes at
once: results move pending → running (a compare-and-swap, with the run created in the same
transaction under an idempotency key) → scored or error (another), and the eval run ends when
every result has. A pass starts cases up to `settings.EVAL_CONCURRENCY` running at once, applies
scripted approval decisions to runs waiting on one, and scores the runs that ended. The workers
run the passes (`evals.tasks.eval_run_advance`, queued again until the end); `manage.py eval run`
drives them itself (`eval_run_wait`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from agentops.agents.models import AgentVersion
from agentops.audit.services import Actor, audit_record
from agentops.errors import CodedError
from agentops.taskqueue import enqueue
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.models import FINISHED_STATUSES, Run, RunStatus, WaitingReason
from runs.services import run_cancel, run_create
from runs.waits import wait_kind_required

from . import stats
from .assertions import assertion_grade, assertions_validate, case_grade
from .errors import EvalError
from .models import EvalCase, EvalResult, EvalResultStatus, EvalRun, EvalRunStatus, EvalSuite
from .runner import case_assertions, case_input, case_metadata, run_outcome, waiting_approval_seq
from .selectors import eval_run_find

logger = logging.getLogger(__name__)

MAX_REPEATS = 20
PASS_INTERVAL_SECONDS = 1.0
# An unfinished eval run no pass has touched for this long has lost its chain of tasks.
STALE_AFTER = timedelta(minutes=2)


# Suites and cases ----------------------------------------------------------------------------------

CASE_FIELDS = ("name", "description", "message", "input", "vars", "expected", "assertions", "tags", "threshold",
               "approval_decisions", "tool_results")


def eval_suite_create(*, tenant, agent, name: str, actor: Actor, description: str = "",
                      default_assertions=(), default_vars=None, cases=()) -> EvalSuite:
    """A new suite of `agent` (an agent of `tenant`) with `cases` (see eval_cases_add), in one
    transaction; `suite_exists` if the tenant has a suite of that name."""
    default_assertions = assertions_validate(list(default_assertions), where="default_assertions")
    with transaction.atomic():
        try:
            with transaction.atomic():
                suite = EvalSuite.objects.create(
                    tenant=tenant, agent=agent, name=name, description=description,
                    default_assertions=default_assertions, default_vars=default_vars or {})
        except IntegrityError:
            raise EvalError("suite_exists", f"This tenant already has a suite called {name!r}.") from None
        audit_record(tenant=tenant, action="eval_suite.created", actor=actor, target=suite,
                     data={"name": name, "agent": agent.slug})
        if cases:
            eval_cases_add(suite=suite, cases=list(cases), actor=actor)
    return suite


def eval_cases_add(*, suite: EvalSuite, cases: list[dict], actor: Actor) -> list[EvalCase]:
    """Append `cases` (dicts of CASE_FIELDS) to the suite, after its last case, in their order.
    The suite row is locked so that two writers get consecutive positions."""
    unknown = {name for case in cases for name in case} - set(CASE_FIELDS)
    if unknown:
        raise ValueError(f"unknown case fields: {', '.join(sorted(unknown))}")
    for index, case in enumerate(cases):
        assertions_validate(case.get("assertions", []), where=f"cases[{index}].assertions")
    with transaction.atomic():
        EvalSuite.objects.select_for_update().filter(pk=suite.pk).first()
        last = suite.cases.aggregate(last=Max("position"))["last"]
        start = 0 if last is None else last + 1
        added = EvalCase.objects.bulk_create(
            [EvalCase(suite=suite, position=start + offset, **case) for offset, case in enumerate(cases)])
        audit_record(tenant=suite.tenant, action="eval_case.added", actor=actor, target=suite,
                     data={"suite": suite.name, "cases": [case.name for case in added]})
    return added


def eval_case_file(*, tenant, agent, suite: EvalSuite | None, new_suite_name: str, case: dict,
                   actor: Actor) -> tuple[EvalSuite, EvalCase]:
    """Add `case` to `suite`, or to a new suite of `agent` called `new_suite_name`: one transaction,
    so a refused case leaves no empty suite behind."""
    with transaction.atomic():
        if suite is None:
            suite = eval_suite_create(tenant=tenant, agent=agent, name=new_suite_name, actor=actor)
        [added] = eval_cases_add(suite=suite, cases=[case], actor=actor)
    return suite, added


def run_eval(*, principal: Principal, suite: EvalSuite, version: int | None = None, repeat: int = 1,
             baseline: EvalRun | str | None = None, label: str = "", start: bool = True) -> EvalRun:
    """Start an eval run of the suite's cases against the agent's version `version` (default: its
    current one), each case `repeat` times; `baseline` is an eval run of the suite, or a reference
    to one (`latest`, an id, a label: see selectors.eval_run_find), compared with at the end.
    One transaction: the eval run, its pending results and (with `start`) its first pass's task."""
    if suite.tenant_id != principal.tenant.pk:
        raise EvalError("not_found", "No such suite in this tenant.")
    if not 1 <= repeat <= MAX_REPEATS:
        raise EvalError("invalid_repeat", f"repeat must be from 1 to {MAX_REPEATS}")
    agent_version = _version(suite, version)
    baseline = _baseline(principal, suite, baseline)
    cases = list(suite.cases.all())
    if not cases:
        raise EvalError("empty_suite", f"Suite {suite.name!r} has no cases.")
    with transaction.atomic():
        eval_run = EvalRun.objects.create(
            tenant=suite.tenant, suite=suite, agent_version=agent_version, repeats=repeat, baseline=baseline,
            label=label, total=len(cases) * repeat, created_by=principal.user)
        EvalResult.objects.bulk_create(EvalResult(eval_run=eval_run, case=case, repeat_index=index)
                                       for case in cases for index in range(repeat))
        if start:
            enqueue("evals.tasks.eval_run_advance", eval_run.pk, task_name=f"eval run {eval_run.pk}", save=False)
    return eval_run


def _version(suite: EvalSuite, number: int | None) -> AgentVersion:
    if number is None:
        if suite.agent.current_version is None:
            raise EvalError("unknown_version", f"Agent {suite.agent.slug} has no version.")
        return suite.agent.current_version
    version = AgentVersion.objects.filter(agent=suite.agent, number=number).first()
    if version is None:
        raise EvalError("unknown_version", f"Agent {suite.agent.slug} has no version {number}.")
    return version


def _baseline(principal, suite, baseline) -> EvalRun | None:
    if baseline is None or isinstance(baseline, EvalRun):
        if baseline is not None and baseline.suite_id != suite.pk:
            raise EvalError("invalid_baseline", "The baseline must be an eval run of the same suite.")
        return baseline
    found = eval_run_find(tenant=principal.tenant, suite=suite, reference=str(baseline))
    if found is None and baseline != "latest":
        raise EvalError("unknown_baseline", f"No eval run {baseline!r} of suite {suite.name!r}.")
    return found


# Advancing ------------------------------------------------------------------------------------------


def eval_run_advance(*, eval_run_id, inline: bool = False) -> bool:
    """One pass over the eval run (see the module docstring); returns True once it has ended.
    With `inline`, runs nobody has taken are executed in this process."""
    eval_run = EvalRun.objects.select_related("suite__agent", "agent_version", "tenant", "created_by").get(
        pk=eval_run_id)
    if eval_run.is_finished:
        return True
    EvalRun.objects.filter(pk=eval_run.pk, status=EvalRunStatus.QUEUED).update(
        status=EvalRunStatus.RUNNING, started_at=timezone.now())
    EvalRun.objects.filter(pk=eval_run.pk).update(advanced_at=timezone.now())
    try:
        principal = _principal(eval_run)
    except EvalError as error:
        return _eval_run_fail(eval_run, error)
    running = list(eval_run.results.filter(status=EvalResultStatus.RUNNING).select_related("case__suite", "run"))
    for result in running:
        _result_follow(result, inline=inline)
    _results_start(eval_run, principal, room=settings.EVAL_CONCURRENCY - len(running), inline=inline)
    if _eval_run_finish_if_done(eval_run):
        return True
    return _eval_run_expire_if_late(eval_run)


def _principal(eval_run: EvalRun) -> Principal:
    membership = Membership.objects.filter(tenant=eval_run.tenant, user=eval_run.created_by).first()
    if membership is None:
        raise EvalError("no_member", "Whoever started this eval run is no longer a member of the tenant.")
    return Principal(tenant=eval_run.tenant, user=eval_run.created_by, membership=membership)


def _results_start(eval_run: EvalRun, principal: Principal, *, room: int, inline: bool) -> None:
    if room <= 0:
        return
    pending = eval_run.results.filter(status=EvalResultStatus.PENDING).select_related("case__suite").order_by("id")
    for result in pending[:room]:
        run = _result_start(eval_run, result, principal)
        if inline and run is not None:
            execute_run(run.pk)


def _result_start(eval_run: EvalRun, result: EvalResult, principal: Principal) -> Run | None:
    """pending → running with its run, in one transaction; a case whose run cannot start is an error."""
    try:
        with transaction.atomic():
            if not EvalResult.objects.filter(pk=result.pk, status=EvalResultStatus.PENDING).update(
                    status=EvalResultStatus.RUNNING):
                return None  # another pass started it
            run, _ = run_create(principal=principal, agent_slug=eval_run.suite.agent.slug,
                                input=case_input(result.case), metadata=case_metadata(result),
                                version=eval_run.agent_version.number,
                                idempotency_key=f"eval:{eval_run.pk}:{result.pk}")
            EvalResult.objects.filter(pk=result.pk).update(run=run)
            return run
    except CodedError as error:
        _result_end(result, status=EvalResultStatus.ERROR, error=error.as_dict(), expected=EvalResultStatus.PENDING)
        return None


def _result_follow(result: EvalResult, *, inline: bool) -> None:
    run = result.run
    if run is None:  # its run was deleted (retention) under the eval run
        _result_end(result, status=EvalResultStatus.ERROR, error={"code": "run_gone", "message": "The run is gone."})
        return
    if run.status == RunStatus.WAITING and run.waiting_reason == WaitingReason.APPROVAL:
        _approval_decide(result, run)
    elif run.status == RunStatus.QUEUED and inline:
        execute_run(run.pk)
    run.refresh_from_db()
    if run.is_finished:
        _result_score(result, run)


def _approval_decide(result: EvalResult, run: Run) -> None:
    """The case's scripted decision for the approval the run waits on (the n-th it reached takes
    the n-th decision); a run reaching more approvals than the case scripts is cancelled."""
    waiting = waiting_approval_seq(run)
    if waiting is None:
        return
    seq, index = waiting
    decisions = result.case.approval_decisions or []
    if index >= len(decisions):
        run_cancel(run=run, actor=Actor.system("eval runner"))
        _result_end(result, status=EvalResultStatus.ERROR, run=run, error={
            "code": "approval_unscripted",
            "message": f"The run reached approval #{index + 1}; the case scripts {len(decisions)} decision(s)."})
        return
    try:
        wait_kind_required("approval").decide_scripted(run=run, seq=seq, decision=decisions[index])
    except CodedError as error:
        run_cancel(run=run, actor=Actor.system("eval runner"))
        _result_end(result, status=EvalResultStatus.ERROR, run=run, error=error.as_dict())


def _result_score(result: EvalResult, run: Run) -> None:
    outcome = run_outcome(run, result.case)
    graded = [assertion_grade(spec, outcome) for spec in case_assertions(result.case)]
    passed, score = case_grade(graded, threshold=result.case.threshold,
                               run_succeeded=run.status == RunStatus.SUCCEEDED)
    _result_end(result, status=EvalResultStatus.SCORED, run=run, assertions=graded, score=score, passed=passed,
                error=run.error if run.status != RunStatus.SUCCEEDED else None)


def _result_end(result: EvalResult, *, status: str, run: Run | None = None, error=None, assertions=(),
                score=0.0, passed=False, expected: str = EvalResultStatus.RUNNING) -> None:
    """running (or `expected`) → scored/error and the eval run's progress, in one transaction."""
    duration = run.duration_seconds if run is not None else None
    with transaction.atomic():
        ended = EvalResult.objects.filter(pk=result.pk, status=expected).update(
            status=status, assertions=list(assertions), score=score, passed=passed, error=error,
            cost=run.cost if run is not None else 0, latency_seconds=duration, finished_at=timezone.now())
        if ended:
            EvalRun.objects.filter(pk=result.eval_run_id).update(done=F("done") + 1)


def _eval_run_finish_if_done(eval_run: EvalRun) -> bool:
    results = list(eval_run.results.select_related("case").order_by("case__position", "case_id", "repeat_index"))
    if any(result.status in (EvalResultStatus.PENDING, EvalResultStatus.RUNNING) for result in results):
        return False
    summary = stats.summary(results)
    if eval_run.baseline is not None:
        summary["comparison"] = stats.comparison(eval_run.baseline.summary, summary,
                                                 baseline_id=eval_run.baseline_id)
        summary.update({key: summary["comparison"]["counts"][key] for key in ("regressed", "improved")})
    EvalRun.objects.filter(pk=eval_run.pk, status=EvalRunStatus.RUNNING).update(
        status=EvalRunStatus.SUCCEEDED, summary=summary, finished_at=timezone.now())
    return True


def _eval_run_expire_if_late(eval_run: EvalRun) -> bool:
    """An eval run still going EVAL_RUN_TIMEOUT_SECONDS after it started (a run waiting on a person,
    say) fails with `timeout`, and its unfinished runs are cancelled."""
    eval_run.refresh_from_db(fields=["started_at"])
    if eval_run.started_at is None or timezone.now() - eval_run.started_at < timedelta(
            seconds=settings.EVAL_RUN_TIMEOUT_SECONDS):
        return False
    for run in Run.objects.filter(pk__in=eval_run.results.exclude(run=None).values("run")).exclude(
            status__in=FINISHED_STATUSES):
        with contextlib.suppress(CodedError):  # it ended meanwhile
            run_cancel(run=run, actor=Actor.system("eval runner"))
    return _eval_run_fail(eval_run, EvalError(
        "timeout", f"The eval run did not end within {settings.EVAL_RUN_TIMEOUT_SECONDS:g} s."))


def _eval_run_fail(eval_run: EvalRun, error: EvalError) -> bool:
    EvalRun.objects.filter(pk=eval_run.pk, status__in=(EvalRunStatus.QUEUED, EvalRunStatus.RUNNING)).update(
        status=EvalRunStatus.FAILED, error=error.as_dict(), finished_at=timezone.now())
    return True


def eval_run_wait(*, eval_run: EvalRun, inline: bool = False, timeout: float = 3600,
                  on_progress=None) -> EvalRun:
    """Advance the eval run in this process until it ends (or `timeout` seconds pass: it is then
    failed with `timeout`). `on_progress(eval_run)` is called after each pass."""
    deadline = time.monotonic() + timeout
    while not eval_run_advance(eval_run_id=eval_run.pk, inline=inline):
        eval_run.refresh_from_db()
        if on_progress:
            on_progress(eval_run)
        if time.monotonic() > deadline:
            _eval_run_fail(eval_run, EvalError("timeout", f"The eval run did not end within {timeout:g} s."))
            break
        time.sleep(0.05 if inline else PASS_INTERVAL_SECONDS / 4)
    eval_run.refresh_from_db()
    return eval_run


def eval_run_schedule_next(eval_run_id) -> None:
    """Queue the next pass of the eval run about a second from now."""
    at = timezone.now() + timedelta(seconds=PASS_INTERVAL_SECONDS)
    if not enqueue("evals.tasks.eval_run_advance", eval_run_id, at=at, task_name=f"eval run {eval_run_id}",
                   save=False):
        time.sleep(PASS_INTERVAL_SECONDS)  # a broker that cannot hold a task until then
        enqueue("evals.tasks.eval_run_advance", eval_run_id, task_name=f"eval run {eval_run_id}", save=False)


def eval_runs_resume(*, now=None) -> list[int]:
    """Queue a pass for every unfinished eval run that none has touched for STALE_AFTER (its chain
    of tasks was lost: a broker that dropped it, a command stopped midway); returns their ids.
    Run every minute by a django-q2 schedule (migration evals.0003)."""
    now = now or timezone.now()
    stale = EvalRun.objects.filter(status__in=(EvalRunStatus.QUEUED, EvalRunStatus.RUNNING)).filter(
        Q(advanced_at__lt=now - STALE_AFTER) | Q(advanced_at=None, created_at__lt=now - STALE_AFTER))
    ids = list(stale.values_list("pk", flat=True))
    for eval_run_id in ids:
        enqueue("evals.tasks.eval_run_advance", eval_run_id, task_name=f"eval run {eval_run_id}", save=False)
    return ids


# Comparing --------------------------------------------------------------------------------------------


def compare_eval_runs(a: EvalRun, b: EvalRun) -> dict:
    """`b` against `a` (the baseline), case by case: regressed / improved / unchanged / flaky /
    new, with cost and latency deltas (evals.stats.comparison). Both must be finished eval runs
    of one tenant."""
    if a.tenant_id != b.tenant_id:
        raise EvalError("not_found", "No such eval run in this tenant.")
    if not (a.status == b.status == EvalRunStatus.SUCCEEDED):
        raise EvalError("not_finished", "Both eval runs must have finished.")
    return {"eval_run": b.pk, **stats.comparison(a.summary, b.summary, baseline_id=a.pk)}
