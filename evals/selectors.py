"""Reads of suites and eval runs, always scoped to a tenant. The `_for_user` ones and the lists
the API pages by cursor (agentops.keyset) also check that the principal may view them."""

from __future__ import annotations

from django.db.models import QuerySet

from agentops.agents.models import AgentVersion
from agentops.keyset import KeysetQuery
from agentops.tenancy.principal import Principal

from .models import EvalCase, EvalResult, EvalRun, EvalRunStatus, EvalSuite


def suite_list(*, tenant) -> QuerySet[EvalSuite]:
    return EvalSuite.objects.filter(tenant=tenant).select_related("agent")


def suite_get(*, tenant, name: str) -> EvalSuite | None:
    return suite_list(tenant=tenant).filter(name=name).first()


def eval_run_list(*, tenant, suite: EvalSuite | None = None) -> QuerySet[EvalRun]:
    runs = EvalRun.objects.filter(tenant=tenant).select_related("suite", "agent_version", "baseline")
    return runs.filter(suite=suite) if suite is not None else runs


def eval_run_get(*, tenant, eval_run_id) -> EvalRun | None:
    if not str(eval_run_id).isdigit():
        return None
    return eval_run_list(tenant=tenant).filter(pk=int(eval_run_id)).first()


def eval_run_find(*, tenant, suite: EvalSuite, reference: str) -> EvalRun | None:
    """An eval run of the suite named by `reference`: `latest` (its last finished one), an id, or a
    label (the newest run with it)."""
    runs = eval_run_list(tenant=tenant, suite=suite)
    if reference == "latest":
        return runs.filter(status=EvalRunStatus.SUCCEEDED).first()
    if reference.isdigit():
        return runs.filter(pk=int(reference)).first()
    return runs.filter(label=reference).first()


def eval_results(eval_run: EvalRun) -> QuerySet[EvalResult]:
    return eval_run.results.select_related("case", "run").order_by("case__position", "case_id", "repeat_index")


# -- for pages and the API: the principal's view, lists by cursor ----------------------------------


def tenant_suites(principal: Principal) -> QuerySet[EvalSuite]:
    if not principal.can("view", "read"):
        return EvalSuite.objects.none()
    return suite_list(tenant=principal.tenant)


def tenant_eval_runs(principal: Principal) -> QuerySet[EvalRun]:
    if not principal.can("view", "read"):
        return EvalRun.objects.none()
    return EvalRun.objects.filter(tenant_id=principal.tenant.pk)


def eval_suite_list(*, principal: Principal) -> KeysetQuery:
    """The tenant's suites by name, with their agent: page it with `.page(cursor=, size=)`."""
    return KeysetQuery((tenant_suites(principal),), fields=("name", "pk"), newest_first=False)


def eval_suite_get(*, principal: Principal, suite_id) -> EvalSuite | None:
    """The suite `suite_id` of the principal's tenant with its agent, or None. One query."""
    if not str(suite_id).isdigit():
        return None
    return tenant_suites(principal).filter(pk=suite_id).first()


def suite_versions(*, suite: EvalSuite) -> list[AgentVersion]:
    """The versions of the suite's agent, newest first. One query."""
    return list(suite.agent.versions.order_by("-number"))


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
