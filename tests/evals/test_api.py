"""/api/v1/evals/: suites and cases round-trip, eval runs and their results page by cursor, errors
come in the envelope, and a second tenant sees nothing."""

import pytest
from rest_framework.test import APIClient

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from evals.models import EvalCase, EvalRun, EvalSuite
from tests.factories import AgentFactory
from tests.support.evals import make_history

pytestmark = pytest.mark.django_db

SUITES = "/api/v1/evals/suites/"
EVAL_RUNS = "/api/v1/evals/runs/"
CASE = {"name": "refund policy", "message": "What is your refund policy?",
        "assertions": [{"type": "icontains", "value": "30 days"}]}


@pytest.fixture
def writer(client_for):
    """A developer's key that may read and write evals."""
    return client_for(Role.DEVELOPER, ("read", "evals:write"))


def error_of(response) -> dict:
    return response.json()["error"]


def test_a_suite_is_created_with_its_cases_and_read_back(writer, tenant, agent):
    created = writer.post(SUITES, {"name": "support-basics", "agent": "support", "description": "smoke",
                                   "cases": [CASE, {"name": "hello", "message": "Hello"}]}, format="json")

    assert created.status_code == 201
    suite = writer.get(f"{SUITES}{created.json()['id']}/").json()
    assert (suite["name"], suite["agent"], suite["description"]) == ("support-basics", "support", "smoke")
    assert [(case["position"], case["name"], case["assertions"]) for case in suite["cases"]] == [
        (0, "refund policy", CASE["assertions"]), (1, "hello", [])]
    assert AuditEvent.objects.filter(tenant=tenant, action="eval_suite.created").count() == 1


def test_cases_are_added_after_the_last_one(writer, agent):
    suite_id = writer.post(SUITES, {"name": "s", "agent": "support", "cases": [CASE]}, format="json").json()["id"]

    added = writer.post(f"{SUITES}{suite_id}/cases/", {"cases": [{"name": "b", "message": "b"},
                                                                 {"name": "c", "input": {"order": 7}}]},
                        format="json")

    assert added.status_code == 201
    assert [(case["position"], case["name"]) for case in added.json()] == [(1, "b"), (2, "c")]
    assert [case["input"] for case in writer.get(f"{SUITES}{suite_id}/").json()["cases"]] == [None, None, {"order": 7}]


def test_suites_are_listed_by_name_a_page_at_a_time(writer, tenant, agent):
    for name in ("c", "a", "b"):
        writer.post(SUITES, {"name": name, "agent": "support"}, format="json")

    first = writer.get(SUITES, {"limit": 2}).json()
    second = writer.get(first["next"]).json()

    assert [suite["name"] for suite in first["results"]] == ["a", "b"]
    assert [suite["name"] for suite in second["results"]] == ["c"] and second["next"] is None


@pytest.mark.parametrize("body, status, code", [
    ({"name": "s", "agent": "nobody"}, 400, "invalid"),
    ({"name": "s", "agent": "support", "tenant": 2}, 400, "unknown_field"),
    ({"name": "s", "agent": "support", "cases": [{"name": "no question"}]}, 400, "invalid"),
    ({"name": "s", "agent": "support", "cases": [{"message": "x", "assertions": "icontains"}]}, 400, "invalid"),
    ({"agent": "support"}, 400, "invalid"),
    ({"name": "s", "agent": "support", "cases": [{"message": "x", "assertions": [{"type": "javascript"}]}]}, 400,
     "unsupported_assertion"),
    ({"name": "s", "agent": "support", "default_assertions": [{"type": "icontains"}]}, 400, "invalid_assertion"),
    ({"name": "s", "agent": "support", "cases": [{"message": "x", "assertions": [{"type": "sounds-right"}]}]}, 400,
     "unknown_assertion"),
])
def test_a_bad_suite_is_refused_with_the_reason(writer, agent, body, status, code):
    response = writer.post(SUITES, body, format="json")

    assert response.status_code == status and error_of(response)["code"] == code
    assert not EvalSuite.objects.exists()


def test_a_taken_name_is_a_conflict(writer, agent):
    writer.post(SUITES, {"name": "s", "agent": "support"}, format="json")

    response = writer.post(SUITES, {"name": "s", "agent": "support", "cases": [CASE]}, format="json")

    assert response.status_code == 409 and error_of(response)["code"] == "suite_exists"
    assert not EvalCase.objects.exists()


def test_unknown_query_parameters_are_refused(writer):
    response = writer.get(EVAL_RUNS, {"suit": 1})

    assert response.status_code == 400 and error_of(response)["code"] == "unknown_parameter"


@pytest.mark.parametrize("role, scopes", [(Role.VIEWER, ("read",)), (Role.DEVELOPER, ("read", "runs:write"))])
def test_writing_needs_a_role_that_runs_agents_and_the_evals_scope(client_for, agent, role, scopes):
    client = client_for(role, scopes)

    response = client.post(SUITES, {"name": "s", "agent": "support"}, format="json")

    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert client.get(SUITES).status_code == 200
    assert not EvalSuite.objects.exists()


def test_eval_runs_are_listed_newest_first_and_by_suite(api, tenant, eval_history):
    make_history(tenant, "billing")

    everything = api.get(EVAL_RUNS).json()["results"]
    of_suite = api.get(EVAL_RUNS, {"suite": eval_history.suite.pk}).json()["results"]

    assert len(everything) == 6
    assert [run["id"] for run in of_suite] == [run.pk for run in reversed(eval_history.eval_runs)]
    assert (of_suite[0]["status"], of_suite[0]["agent_version"], of_suite[0]["done"], of_suite[0]["total"]) == (
        "running", 3, 1, 3)


def test_an_eval_run_comes_with_its_summary_and_a_page_of_results(api, eval_history):
    v2 = eval_history.eval_runs[1]

    first = api.get(f"{EVAL_RUNS}{v2.pk}/", {"limit": 4}).json()
    rest = api.get(first["next"]).json()

    assert (first["summary"]["pass_rate"], first["baseline"], first["repeats"]) == (0.3333, eval_history.eval_runs[0].pk, 2)
    results = first["results"] + rest["results"]
    assert [(r["case_name"], r["repeat_index"], r["passed"]) for r in results] == [
        ("refund policy", 0, True), ("refund policy", 1, True), ("order status", 0, False),
        ("order status", 1, False), ("greeting", 0, True), ("greeting", 1, False)]
    assert results[2]["assertions"][0]["explanation"] == "'ok' is not in the answer"
    assert rest["next"] is None


def test_a_second_tenant_sees_nothing(client_for, other_tenant, eval_history):
    stranger = client_for(Role.OWNER, ("read", "evals:write"), in_tenant=other_tenant)
    AgentFactory(tenant=other_tenant, slug="support")

    assert stranger.get(SUITES).json()["results"] == []
    assert stranger.get(EVAL_RUNS).json()["results"] == []
    for path in (f"{SUITES}{eval_history.suite.pk}/", f"{EVAL_RUNS}{eval_history.eval_runs[0].pk}/"):
        response = stranger.get(path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = stranger.post(f"{SUITES}{eval_history.suite.pk}/cases/", {"cases": [CASE]}, format="json")
    assert response.status_code == 404
    assert stranger.get(EVAL_RUNS, {"suite": eval_history.suite.pk}).status_code == 404
    assert eval_history.suite.cases.count() == 3


def test_anonymous_requests_are_refused(eval_history):
    response = APIClient().get(SUITES)

    assert response.status_code in (401, 403) and "error" in response.json()


def test_an_eval_run_is_started_queued_with_its_results_pending(writer, tenant, eval_history, audited):
    response = writer.post(EVAL_RUNS, {"suite": eval_history.suite.pk, "agent_version": 2, "repeat": 3,
                                       "baseline": "latest", "label": "candidate"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["agent_version"], body["repeats"], body["total"], body["label"]) == (
        "queued", 2, 3, 9, "candidate")
    assert body["baseline"] == eval_history.eval_runs[1].pk  # the latest finished one
    assert EvalRun.objects.get(pk=body["id"]).results.filter(status="pending").count() == 9


@pytest.mark.parametrize("body, status, code", [
    ({"agent_version": 9}, 400, "unknown_version"),
    ({"baseline": "no-such-label"}, 400, "unknown_baseline"),
    ({"repeat": 21}, 400, "invalid"),
    ({"suite": 99999}, 404, "not_found"),
    ({"repeats": 2}, 400, "unknown_field"),
])
def test_a_bad_eval_run_is_refused_and_starts_nothing(writer, eval_history, body, status, code):
    response = writer.post(EVAL_RUNS, {"suite": eval_history.suite.pk, **body}, format="json")

    assert response.status_code == status and error_of(response)["code"] == code
    assert EvalRun.objects.count() == 3


def test_a_suite_without_cases_cannot_run(writer, agent):
    suite_id = writer.post(SUITES, {"name": "empty", "agent": "support"}, format="json").json()["id"]

    response = writer.post(EVAL_RUNS, {"suite": suite_id}, format="json")

    assert response.status_code == 409 and error_of(response)["code"] == "empty_suite"


def test_starting_an_eval_run_needs_the_evals_scope(client_for, eval_history):
    response = client_for(Role.OPERATOR, ("read", "runs:write")).post(
        EVAL_RUNS, {"suite": eval_history.suite.pk}, format="json")

    assert response.status_code == 403 and EvalRun.objects.count() == 3


def test_the_comparison_marks_each_case_against_the_baseline(api, eval_history):
    v2 = eval_history.eval_runs[1]

    body = api.get(f"{EVAL_RUNS}{v2.pk}/comparison/").json()

    assert (body["baseline"], body["eval_run"]) == (eval_history.eval_runs[0].pk, v2.pk)
    assert {case["name"]: case["change"] for case in body["cases"]} == {
        "refund policy": "unchanged", "order status": "regressed", "greeting": "flaky"}
    assert body["counts"]["regressed"] == 1 and body["pass_rate_delta"] == pytest.approx(-2 / 3, abs=1e-3)


def test_the_comparison_takes_another_baseline_by_reference(api, eval_history):
    v1, v2, _ = eval_history.eval_runs

    body = api.get(f"{EVAL_RUNS}{v1.pk}/comparison/", {"baseline": str(v2.pk)}).json()

    assert {case["name"]: case["change"] for case in body["cases"]}["order status"] == "improved"


@pytest.mark.parametrize("which, params, status, code", [
    (0, {}, 404, "no_baseline"),  # v1 has none
    (2, {}, 409, "not_finished"),  # v3 still runs
    (1, {"baseline": "nope"}, 404, "no_baseline"),
])
def test_a_comparison_that_cannot_be_made_says_why(api, eval_history, which, params, status, code):
    response = api.get(f"{EVAL_RUNS}{eval_history.eval_runs[which].pk}/comparison/", params)

    assert response.status_code == status and error_of(response)["code"] == code
