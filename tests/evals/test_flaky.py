"""Repeats against a real OpenAI-compatible server: a case whose answers alternate is flaky, not a
regression; one that fails on every repeat is a regression. And the llm-rubric judge's votes."""

import pytest

from evals.assertions import Outcome, assertion_grade
from evals.models import EvalRunStatus
from evals.services import eval_run_wait, run_eval
from evals.stats import gate
from tests.factories import AgentFactory, EvalCaseFactory, EvalSuiteFactory
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(settings):
    with OpenAIServer() as server:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = server.base_url, "test"
        yield server


@pytest.fixture
def yes_suite(tenant, operator):
    agent = AgentFactory(tenant=tenant, slug="answerer", version__provider="openai", version__model="gpt-4o-mini")
    suite = EvalSuiteFactory(agent=agent, name="says yes")
    EvalCaseFactory(suite=suite, name="agrees", message="Do you agree?", assertions=[{"type": "icontains",
                                                                                        "value": "yes"}])
    return suite


def evaluate(principal, suite, server, answers, baseline=None):
    for answer in answers:
        server.reply(answer)
    eval_run = run_eval(principal=principal, suite=suite, repeat=len(answers), baseline=baseline, start=False)
    return eval_run_wait(eval_run=eval_run, inline=True, timeout=60)


def test_a_case_that_passes_on_some_repeats_is_flaky_not_regressed(principal, yes_suite, server):
    baseline = evaluate(principal, yes_suite, server, ["Yes.", "Yes.", "Yes."])

    flaky = evaluate(principal, yes_suite, server, ["Yes.", "No.", "Yes."], baseline=baseline)

    case = flaky.summary["case_stats"][0]
    assert flaky.status == EvalRunStatus.SUCCEEDED
    assert (case["verdict"], case["passes"], case["repeats"], case["pass_all"]) == ("flaky", 2, 3, 0.0)
    assert case["passed"] is True  # the majority decides
    assert flaky.summary["flaky"] == 1 and flaky.summary["regressed"] == 0
    assert flaky.summary["comparison"]["cases"][0]["change"] == "flaky"
    assert gate(flaky.summary, min_pass_rate=None, fail_on_regression=True) == []


def test_a_case_that_fails_on_every_repeat_is_a_regression(principal, yes_suite, server):
    baseline = evaluate(principal, yes_suite, server, ["Yes.", "Yes."])

    broken = evaluate(principal, yes_suite, server, ["No.", "Nope."], baseline=baseline)

    assert broken.summary["regressed"] == 1
    assert broken.summary["comparison"]["pass_rate_delta"] == -1.0
    assert gate(broken.summary, min_pass_rate=0.0, fail_on_regression=True) == [
        f"1 case(s) regressed against eval run {baseline.pk}: agrees"]


def test_the_judge_is_asked_k_times_and_the_majority_decides(settings, server, tenant):
    settings.EVAL_JUDGE_PROVIDER = "openai"
    for verdict in ('{"pass": true, "score": 0.9, "reason": "polite"}', 'Verdict: {"pass": false, "score": 0.2, '
                    '"reason": "curt"}', '{"pass": true, "score": 0.8, "reason": "names the order"}'):
        server.reply(verdict)
    outcome = Outcome(output={"answer": "Refunded order 1042."}, text="Refunded order 1042.", status="succeeded",
                      question="Refund order 1042", tenant_id=tenant.pk)

    result = assertion_grade({"type": "llm-rubric", "value": "Polite and names the order", "k": 3}, outcome)

    assert result["passed"] is True and result["score"] == pytest.approx(0.6333, abs=1e-3)
    assert [vote["pass"] for vote in result["votes"]] == [True, False, True]
    assert result["spread"] == pytest.approx(0.7)
    assert "2/3 judge verdicts pass" in result["explanation"]
    prompt = server.chat_requests[0].body["messages"][1]["content"]
    assert "<Rubric>Polite and names the order</Rubric>" in prompt and "Refunded order 1042." in prompt


def test_a_judge_that_answers_no_verdict_fails_the_assertion(settings, server, tenant):
    settings.EVAL_JUDGE_PROVIDER = "openai"
    server.reply("I think it is fine.")
    outcome = Outcome(output="ok", text="ok", status="succeeded", tenant_id=tenant.pk)

    result = assertion_grade({"type": "llm-rubric", "value": "Is fine"}, outcome)

    assert result["passed"] is False and "no verdict" in result["explanation"]
