"""Writes of eval suites and cases: each one transaction, audited in it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max

from agentops.audit.services import Actor, audit_record

from .errors import EvalError
from .models import EvalCase, EvalSuite

CASE_FIELDS = ("name", "description", "message", "input", "vars", "expected", "assertions", "tags",
               "approval_decisions", "tool_results")


def eval_suite_create(*, tenant, agent, name: str, actor: Actor, description: str = "",
                      default_assertions=(), default_vars=None, cases=()) -> EvalSuite:
    """A new suite of `agent` (an agent of `tenant`) with `cases` (see eval_cases_add), in one
    transaction; `suite_exists` if the tenant has a suite of that name."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                suite = EvalSuite.objects.create(
                    tenant=tenant, agent=agent, name=name, description=description,
                    default_assertions=list(default_assertions), default_vars=default_vars or {})
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
