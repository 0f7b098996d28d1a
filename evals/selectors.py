"""Reads of suites and eval runs, always scoped to a tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import EvalResult, EvalRun, EvalRunStatus, EvalSuite


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
