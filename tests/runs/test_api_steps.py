"""The steps API: pages keyset by seq with a count and a byte budget; one model call's full prompt
apart, so a run's pages grow with its journal, not with the square of its length."""

import json

import pytest

from runs.models import RunStatus, Step, StepKind
from tests.support.runs_journal import add_step, make_run

pytestmark = pytest.mark.django_db


def pages(api, run_id, **params):
    """Every page of the run's steps, following `next`: [(steps, bytes of the answer)]."""
    found, after = [], 0
    while after is not None:
        query = "&".join(f"{name}={value}" for name, value in {"after": after, **params}.items())
        response = api.get(f"/api/v1/runs/{run_id}/steps/?{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        found.append((body["steps"], len(response.content)))
        after = body["next"]
    return found


def test_a_thousand_step_run_pages_through_in_answers_of_bounded_size(api, long_run):
    assert Step.objects.filter(run_id=long_run).count() == 1000

    answers = pages(api, long_run, limit=1000, max_bytes=60_000)

    seqs = [step["seq"] for steps, _ in answers for step in steps]
    assert seqs == list(range(1, 1001))  # every step exactly once, in order
    assert len(answers) > 1 and all(size < 60_000 + 1_000 for _, size in answers)  # the budget, plus the envelope
    sizes = [size for _, size in answers[:-1]]
    assert max(sizes) < 1.5 * min(sizes), "a later page of the run costs what an early one does"


def test_the_default_page_stops_at_the_count(api, long_run):
    body = api.get(f"/api/v1/runs/{long_run}/steps/").json()

    assert [s["seq"] for s in body["steps"]] == list(range(1, 201)) and body["next"] == 200
    assert api.get(f"/api/v1/runs/{long_run}/steps/?after=999").json()["next"] is None


def test_a_model_step_carries_the_messages_it_added_and_links_its_prompt(api, long_run):
    steps = api.get(f"/api/v1/runs/{long_run}/steps/?after=997&limit=2").json()["steps"]
    model = steps[1]

    assert model["kind"] == StepKind.LLM and model["seq"] == 999
    assert model["input"]["previous"] == 997
    assert model["input"]["messages"] == [{"role": "user", "content": "turn 499: " + "x" * 200}]
    assert "prompt" not in model
    assert steps[0]["prompt_url"] is None

    prompt = api.get(model["prompt_url"]).json()

    assert prompt["seq"] == 999 and prompt["added"] == 1
    assert len(prompt["prompt"]) == 1 + 2 * 499 + 1  # system, 499 turns with their replies, the new turn
    assert prompt["prompt"][-1] == model["input"]["messages"][-1]


def test_a_step_larger_than_the_budget_comes_alone(api, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED)
    add_step(run, 1, output={"small": 1})
    add_step(run, 2, output={"big": "y" * 5_000})
    add_step(run, 3, output={"small": 3})

    answers = pages(api, run.pk, max_bytes=1_000)

    assert [[s["seq"] for s in steps] for steps, _ in answers] == [[1], [2], [3]]


def test_prompt_of_a_step_that_is_not_a_model_call_is_a_json_404(api, long_run):
    response = api.get(f"/api/v1/runs/{long_run}/steps/2/prompt/")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_another_tenants_prompt_is_not_found(api, long_run, other_tenant, member, api_key_for):
    stranger = api.__class__()
    outsider = member("mallory", in_tenant=other_tenant)
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(outsider, other_tenant)}")

    response = stranger.get(f"/api/v1/runs/{long_run}/steps/1/prompt/")

    assert response.status_code == 404 and "prompt" not in json.loads(response.content)


@pytest.mark.parametrize("query", ["after=-1", "limit=0", "max_bytes=0", "after=x"])
def test_bad_paging_parameters_are_a_400_envelope(api, long_run, query):
    response = api.get(f"/api/v1/runs/{long_run}/steps/?{query}")

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
