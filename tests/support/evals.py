"""Eval suites with a history, written as the runner leaves them: for the evals pages and API.

`make_history`: the support agent of `tenant` at versions 1 to 3 and its suite "support-basics"
of three cases. Version 1 passed everything; version 2 failed "order status" and was flaky on
"greeting" (two repeats, one failed); version 3's eval run is still running.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from agentops.agents.models import AgentVersion
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from evals import stats
from evals.models import EvalResult, EvalResultStatus, EvalRun, EvalRunStatus
from evals.selectors import eval_results
from runs.engine import execute_run
from runs.services import run_create
from tests.factories import AgentFactory, EvalCaseFactory, EvalSuiteFactory

CASES = ("refund policy", "order status", "greeting")


@dataclass
class History:
    suite: object
    cases: list
    versions: list
    eval_runs: list  # v1 (passed), v2 (a regression and a flaky case), v3 (running)


def add_eval_run(suite, version, passes: dict, *, status=EvalRunStatus.SUCCEEDED, baseline=None) -> EvalRun:
    """An eval run of `suite` on `version` whose results are `passes`: {case: [passed, ...]}
    (one per repeat; None for a result not scored yet)."""
    repeats = max(len(outcomes) for outcomes in passes.values())
    scored = [passed for outcomes in passes.values() for passed in outcomes if passed is not None]
    finished = timezone.now() if status == EvalRunStatus.SUCCEEDED else None
    eval_run = EvalRun.objects.create(
        tenant=suite.tenant, suite=suite, agent_version=version, repeats=repeats, status=status, baseline=baseline,
        total=sum(len(outcomes) for outcomes in passes.values()), done=len(scored), finished_at=finished)
    for case, outcomes in passes.items():
        for repeat, passed in enumerate(outcomes):
            EvalResult.objects.create(
                eval_run=eval_run, case=case, repeat_index=repeat, passed=passed, score=None if passed is None
                else float(passed), status=EvalResultStatus.PENDING if passed is None else EvalResultStatus.SCORED,
                assertions=[] if passed is None else [
                    {"type": "icontains", "value": "ok", "passed": passed, "score": float(passed),
                     "explanation": "found 'ok'" if passed else "'ok' is not in the answer"}])
    if finished:  # summed up as the runner does when an eval run ends
        summary = stats.summary(eval_results(eval_run))
        if baseline is not None:
            summary["comparison"] = stats.comparison(baseline.summary, summary)
        EvalRun.objects.filter(pk=eval_run.pk).update(summary=summary)
        eval_run.refresh_from_db()
    return eval_run


def make_history(tenant, slug: str = "support") -> History:
    agent = AgentFactory(tenant=tenant, slug=slug)
    versions = [agent.current_version] + [AgentVersion.objects.create(agent=agent, number=n, provider="demo",
                                                                      model="demo") for n in (2, 3)]
    suite = EvalSuiteFactory(agent=agent, name=f"{slug}-basics")
    cases = [EvalCaseFactory(suite=suite, name=name, position=index) for index, name in enumerate(CASES)]
    refund, order, greeting = cases
    v1 = add_eval_run(suite, versions[0], {refund: [True, True], order: [True, True], greeting: [True, True]})
    v2 = add_eval_run(suite, versions[1], {refund: [True, True], order: [False, False], greeting: [True, False]},
                      baseline=v1)
    v3 = add_eval_run(suite, versions[2], {refund: [True], order: [None], greeting: [None]},
                      status=EvalRunStatus.RUNNING, baseline=v2)
    return History(suite, cases, versions, [v1, v2, v3])


def finished_run(user, tenant, slug: str, message: str, **version):
    """A run of a demo-model agent `slug` (created if new) asked `message`, executed to its end."""
    if not tenant.agents.filter(slug=slug).exists():
        AgentFactory(tenant=tenant, slug=slug, **{f"version__{key}": value for key, value in version.items()})
    principal = Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))
    run, _ = run_create(principal=principal, agent_slug=slug, input={"message": message})
    execute_run(run.pk)
    run.refresh_from_db()
    return run
