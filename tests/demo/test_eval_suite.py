"""The demo's eval suite on the offline demo model: the support agent's v1 and v3 pass it, v2
(without crm.lookup_customer) regresses exactly the customer case."""

import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from demo.eval_suite import CASES, SUITE_NAME
from demo.seed import seed_demo
from evals.selectors import suite_get
from evals.services import compare_eval_runs, eval_run_wait, run_eval

from .conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)


@pytest.fixture
def demo():
    seed_demo()
    membership = Membership.objects.select_related("tenant", "user").get(tenant__slug="demo",
                                                                          user__username="operator")
    principal = Principal(tenant=membership.tenant, user=membership.user, membership=membership)
    return principal, suite_get(tenant=membership.tenant, name=SUITE_NAME)


def evaluate(principal, suite, version, baseline=None):
    eval_run = run_eval(principal=principal, suite=suite, version=version, baseline=baseline, start=False)
    return eval_run_wait(eval_run=eval_run, inline=True, timeout=120)


def test_the_seed_makes_the_suite_and_the_versions_once(demo):
    principal, suite = demo

    assert [case.name for case in suite.cases.order_by("position")] == [case["name"] for case in CASES]
    assert [len(v.tools) for v in suite.agent.versions.order_by("number")] == [5, 4, 5]
    assert suite.agent.current_version.number == 3
    assert seed_demo() == []


def test_the_current_version_passes_every_case(demo):
    principal, suite = demo

    eval_run = evaluate(principal, suite, 3)

    assert eval_run.status == "succeeded"
    assert (eval_run.summary["passed_cases"], eval_run.summary["cases"]) == (len(CASES), len(CASES))


def test_version_2_regresses_the_customer_case_only(demo):
    principal, suite = demo
    v1 = evaluate(principal, suite, 1)

    v2 = evaluate(principal, suite, 2, baseline=v1)

    changes = {case["name"]: case["change"] for case in compare_eval_runs(v1, v2)["cases"]}
    assert changes == {"refund policy": "unchanged", "order status": "unchanged", "shipping time": "unchanged",
                       "customer plan": "regressed", "greeting": "unchanged"}
    assert v2.summary["regressed"] == 1 and v1.summary["pass_rate"] == 1.0
