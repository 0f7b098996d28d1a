"""Reads of eval suites, cases, eval runs and results, always scoped to the principal's tenant.

Lists are keyset-paged (agentops.keyset) and every function runs a fixed number of queries.
"""

from __future__ import annotations

from django.db.models import QuerySet

from agentops.keyset import KeysetQuery
from agentops.tenancy.principal import Principal

from .models import EvalCase, EvalResult, EvalRun, EvalSuite


def tenant_suites(principal: Principal) -> QuerySet[EvalSuite]:
    if not principal.can("view", "read"):
        return EvalSuite.objects.none()
    return EvalSuite.objects.filter(tenant_id=principal.tenant.pk)


def tenant_eval_runs(principal: Principal) -> QuerySet[EvalRun]:
    if not principal.can("view", "read"):
        return EvalRun.objects.none()
    return EvalRun.objects.filter(tenant_id=principal.tenant.pk)


def eval_suite_list(*, principal: Principal) -> KeysetQuery:
    """The tenant's suites by name, with their agent: page it with `.page(cursor=, size=)`."""
    suites = tenant_suites(principal).select_related("agent")
    return KeysetQuery((suites,), fields=("name", "pk"), newest_first=False)


def eval_suite_get(*, principal: Principal, suite_id) -> EvalSuite | None:
    """The suite `suite_id` of the principal's tenant with its agent, or None. One query."""
    if not str(suite_id).isdigit():
        return None
    return tenant_suites(principal).select_related("agent").filter(pk=suite_id).first()


def eval_case_list(*, suite: EvalSuite) -> list[EvalCase]:
    """The suite's cases in their order. One query; the caller owns the suite."""
    return list(suite.cases.order_by("position", "pk"))


def eval_run_list_for_user(*, principal: Principal, suite: EvalSuite | None = None) -> KeysetQuery:
    """The tenant's eval runs newest first (of `suite` only, when given), with suite and version."""
    runs = tenant_eval_runs(principal).select_related("suite", "agent_version", "created_by")
    if suite is not None:
        runs = runs.filter(suite=suite)
    return KeysetQuery((runs,))


def eval_run_get_for_user(*, principal: Principal, eval_run_id) -> EvalRun | None:
    """The eval run of the principal's tenant with its suite, agent, version and baseline, or None."""
    if not str(eval_run_id).isdigit():
        return None
    related = ("suite__agent", "agent_version", "baseline__agent_version", "created_by")
    return tenant_eval_runs(principal).select_related(*related).filter(pk=eval_run_id).first()


def eval_result_list(*, eval_run: EvalRun) -> KeysetQuery:
    """The eval run's results in the order they were created (case by case, repeat by repeat),
    with their case and run. The caller owns the eval run."""
    results = EvalResult.objects.filter(eval_run=eval_run).select_related("case", "run")
    return KeysetQuery((results,), fields=("pk",), newest_first=False)
