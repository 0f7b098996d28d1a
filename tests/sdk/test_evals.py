"""evals.*: a suite with cases, an eval run queued on it, its results and its listing, through the
SDK against the live server (no worker: the eval run stays queued); another tenant sees none."""

import pytest
from agentops_client import ConflictError, EvalCase, EvalRun, EvalSuite, NotFoundError

pytestmark = pytest.mark.django_db(transaction=True)

CASE = {"name": "greets", "message": "Hello", "assertions": [{"type": "icontains", "value": "demo"}]}


@pytest.fixture
def evals(sdk, operator, tenant, api_key_for, helper):
    return sdk(key=api_key_for(operator, tenant, scopes=("read", "evals:write"))).evals


def test_a_suite_is_created_with_cases_and_more_are_added(evals):
    suite = evals.create_suite(name="basics", agent="helper", cases=[CASE])
    added = evals.add_cases(suite.id, [{**CASE, "name": "greets again"}])

    assert isinstance(suite, EvalSuite) and suite.agent == "helper"
    assert [case["name"] for case in suite.extra["cases"]] == ["greets"]
    assert isinstance(added[0], EvalCase) and added[0].position > suite.extra["cases"][0]["position"]
    assert [listed.name for listed in evals.list_suites()] == ["basics"]


def test_a_second_suite_of_the_same_name_is_a_conflict(evals):
    evals.create_suite(name="basics", agent="helper", cases=[CASE])

    with pytest.raises(ConflictError) as refused:
        evals.create_suite(name="basics", agent="helper")

    assert refused.value.code == "suite_exists"


def test_an_eval_run_is_queued_listed_and_read(evals):
    suite = evals.create_suite(name="basics", agent="helper", cases=[CASE])

    started = evals.start(suite=suite.id, repeat=2, label="v1")

    assert isinstance(started, EvalRun) and started.status == "queued" and started.repeats == 2
    assert [run.id for run in evals.list_runs(suite=suite.id)] == [started.id]
    assert evals.get_run(started.id).label == "v1"
    assert all(result.case for result in evals.results(started.id))


def test_another_tenant_sees_no_suite(sdk, evals, member, other_tenant, api_key_for):
    suite = evals.create_suite(name="basics", agent="helper", cases=[CASE])
    stranger = sdk(key=api_key_for(member("sten", in_tenant=other_tenant), other_tenant)).evals

    assert list(stranger.list_suites()) == []
    with pytest.raises(NotFoundError):
        stranger.list_runs(suite=suite.id).pages().__next__()
