"""Versioned prices: the price in effect when a model call started, the tier of its prompt, local
models costing nothing explicitly."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from agentops.llm.base import Usage
from agentops.llm.models import ModelPrice
from agentops.llm.pricing import cost_of, price_for
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.models import Run, Step, StepKind
from runs.registry import workflow
from runs.services import run_create
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=timezone.utc) for month in (1, 2, 3))


def a_price(model="acme-1", *, start=JAN, end=None, above=0, prompt="1", output="2", local=False):
    return ModelPrice.objects.create(model=model, effective_from=start, effective_to=end, prompt_tokens_above=above,
                                     input_per_mtok=Decimal(prompt), cached_input_per_mtok=Decimal(prompt),
                                     output_per_mtok=Decimal(output), local=local)


def test_the_price_in_effect_at_the_calls_time_applies():
    a_price(start=JAN, end=FEB, prompt="1")
    a_price(start=FEB, prompt="3")

    assert price_for("acme-1", at=JAN + timedelta(days=3)).input_per_mtok == Decimal("1")
    assert price_for("acme-1", at=FEB).input_per_mtok == Decimal("3")  # the end is exclusive
    assert price_for("acme-1", at=JAN - timedelta(seconds=1)) is None


def test_a_prompt_above_a_tiers_threshold_takes_the_tiers_price():
    a_price(prompt="1.25", output="10")
    a_price(above=200_000, prompt="2.50", output="15")

    assert price_for("acme-1", at=FEB, prompt_tokens=200_000).input_per_mtok == Decimal("1.25")
    long = price_for("acme-1", at=FEB, prompt_tokens=200_001)
    assert long.input_per_mtok == Decimal("2.50")
    assert cost_of(Usage(input_tokens=400_000, output_tokens=100_000), long) == Decimal("2.500000")


def test_a_dated_name_falls_back_to_its_base_models_price_in_effect():
    a_price("acme-1", prompt="1")
    a_price("acme-1-large", start=MAR, prompt="9")  # not yet in effect in February

    assert price_for("acme-1-large-2026", at=FEB).model == "acme-1"
    assert price_for("acme-1-large-2026", at=MAR).model == "acme-1-large"


def test_the_seeded_prices_apply_since_always_and_the_demo_model_is_local():
    assert price_for("gpt-4o-mini", at=datetime(2001, 1, 1, tzinfo=timezone.utc)).input_per_mtok == Decimal("0.15")
    demo = price_for("demo")
    assert demo.local and cost_of(Usage(input_tokens=10**6, output_tokens=10**6), demo) == 0


def test_a_local_model_with_a_price_is_refused():
    with pytest.raises(ValidationError, match="costs nothing"):
        ModelPrice(model="llama-local", local=True, input_per_mtok=1, cached_input_per_mtok=0,
                   output_per_mtok=0).full_clean()


def test_two_prices_of_one_model_tier_and_start_are_refused():
    a_price()
    with pytest.raises(IntegrityError):
        a_price(prompt="5")


def test_a_price_ending_before_it_starts_is_refused():
    with pytest.raises(IntegrityError):
        a_price(start=FEB, end=JAN)


# -- in runs -------------------------------------------------------------------------------------


@workflow("test_prices_one_call")
def one_call(ctx, input):
    return {"said": ctx.llm([{"role": "user", "content": "Hi"}]).content}


@pytest.fixture
def priced_run(openai_server, settings, tenant, operator):
    """priced_run(prompt_tokens) → a finished run of one call to acme-1 through the local server."""
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = openai_server.base_url, "sk-local-test"
    AgentFactory(tenant=tenant, slug="chat", version__workflow="test_prices_one_call", version__provider="openai",
                 version__model="acme-1")
    principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator))

    def run(prompt_tokens: int) -> Run:
        openai_server.reply("Hello.", usage={"prompt_tokens": prompt_tokens, "completion_tokens": 1_000})
        created, _ = run_create(principal=principal, agent_slug="chat", input={})
        execute_run(created.pk)
        return Run.objects.get(pk=created.pk)

    return run


def test_a_model_call_is_priced_by_the_tier_of_its_prompt(priced_run):
    a_price(start=JAN, prompt="1", output="2")
    a_price(start=JAN, above=200_000, prompt="2", output="4")

    short, long = priced_run(100_000), priced_run(300_000)

    assert short.cost == Decimal("0.102000")  # 100k at $1 + 1k at $2, per million
    assert long.cost == Decimal("0.604000")  # 300k at $2 + 1k at $4
    step = Step.objects.get(run=long, kind=StepKind.LLM)
    assert step.price["prompt_tokens_above"] == 200_000 and step.price["effective_from"] == JAN.isoformat()


def test_a_price_starting_later_does_not_apply_to_a_call_made_now(priced_run):
    a_price(start=JAN, prompt="1", output="0")
    a_price(start=datetime.now(timezone.utc) + timedelta(days=1), prompt="100", output="0")

    assert priced_run(1_000_000).cost == Decimal("1.000000")
