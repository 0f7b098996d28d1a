"""`llm-rubric`: a judge model grades the answer against a rubric (`value`), through the model
gateway. The judge is asked `k` times (the assertion's `k`, default settings.EVAL_JUDGE_SAMPLES):
the majority of its verdicts decides, the mean of its scores is the score (and must reach
`threshold` when one is given), and the spread (highest - lowest score) is recorded with the votes.

The judge is `settings.EVAL_JUDGE_PROVIDER` / `EVAL_JUDGE_MODEL`, or the assertion's `provider`:
a provider name or `{"id": name, "model": ..., "config": {...}}` (agentops.llm.registry).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from agentops.llm.base import ProviderError
from agentops.llm.gateway import complete_with_retries
from agentops.llm.pricing import cost_of, price_for
from agentops.llm.registry import get_provider
from agentops.retry import RetryPolicy

from .base import Assertion, Grade, register, require
from .json_checks import embedded_json

JUDGE_PROMPT = (
    "You are grading output according to a user-specified rubric. If the statement in the rubric is true, "
    "then the output passes the test. You respond with a JSON object with this structure: "
    '{"reason": string, "pass": boolean, "score": number between 0 and 1}.'
)
MAX_SAMPLES = 9


@register
class LlmRubric(Assertion):
    name = "llm-rubric"

    def check(self, outcome, value, spec):
        provider, model = _judge(spec, outcome.tenant_id)
        messages = [{"role": "system", "content": JUDGE_PROMPT},
                    {"role": "user", "content": f"<Question>{outcome.question}</Question>\n"
                                                f"<Output>{outcome.text}</Output>\n<Rubric>{value}</Rubric>"}]
        votes = [_vote(provider, model, messages) for _ in range(spec.get("k") or settings.EVAL_JUDGE_SAMPLES)]
        return _decision(votes, spec.get("threshold"))

    def validate_value(self, value, spec):
        require(isinstance(value, str) and value.strip(), "value must be the rubric, as text")
        k = spec.get("k", 1)
        require(isinstance(k, int) and 1 <= k <= MAX_SAMPLES, f"k must be a whole number from 1 to {MAX_SAMPLES}")


def _judge(spec: dict, tenant_id):
    chosen = spec.get("provider") or settings.EVAL_JUDGE_PROVIDER
    if isinstance(chosen, str):
        chosen = {"id": chosen}
    return (get_provider(chosen["id"], chosen.get("config"), tenant_id=tenant_id),
            chosen.get("model") or settings.EVAL_JUDGE_MODEL)


def _vote(provider, model, messages) -> dict:
    try:
        response = complete_with_retries(provider, model=model, messages=messages, tools=[],
                                         temperature=None, policy=RetryPolicy())
    except ProviderError as exc:
        return {"pass": False, "score": 0.0, "reason": f"the judge failed: {exc}", "cost": "0"}
    cost = str(cost_of(response.usage, price_for(response.model, prompt_tokens=response.usage.input_tokens)))
    verdict = next((found for found in embedded_json(response.content or "") if isinstance(found, dict)), None)
    if verdict is None or not isinstance(verdict.get("pass"), bool):
        return {"pass": False, "score": 0.0, "reason": f"the judge gave no verdict: {response.content!r:.200}",
                "cost": cost}
    score = verdict.get("score")
    score = float(score) if isinstance(score, (int, float)) and 0 <= score <= 1 else float(verdict["pass"])
    return {"pass": verdict["pass"], "score": score, "reason": str(verdict.get("reason", "")), "cost": cost}


def _decision(votes: list[dict], threshold) -> Grade:
    passes = sum(vote["pass"] for vote in votes)
    scores = [vote["score"] for vote in votes]
    score = sum(scores) / len(scores)
    passed = passes * 2 > len(votes) and (threshold is None or score >= threshold)
    majority = next(vote for vote in votes if vote["pass"] == (passes * 2 > len(votes)))
    explanation = f"{passes}/{len(votes)} judge verdicts pass (score {score:.2f}): {majority['reason']}"
    judge_cost = sum((Decimal(vote["cost"]) for vote in votes), Decimal(0))
    return Grade(passed, score, explanation, extra={
        "votes": votes, "spread": round(max(scores) - min(scores), 4), "judge_cost": str(judge_cost),
    })
