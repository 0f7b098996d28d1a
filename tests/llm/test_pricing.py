from decimal import Decimal

import pytest

from agentops.llm.base import Usage
from agentops.llm.models import ModelPrice
from agentops.llm.pricing import cost_of, price_for, price_snapshot

pytestmark = pytest.mark.django_db


def a_price(model="acme-1", prompt="2.50", cached="1.25", output="10.00"):
    return ModelPrice.objects.create(
        model=model,
        input_per_mtok=Decimal(prompt),
        cached_input_per_mtok=Decimal(cached),
        output_per_mtok=Decimal(output),
    )


def test_dated_model_name_takes_the_price_of_its_base_model():
    price = price_for("gpt-4o-mini-2024-07-18")

    assert price.model == "gpt-4o-mini"


def test_exact_name_wins_over_a_shorter_prefix():
    assert price_for("gpt-4o-mini").model == "gpt-4o-mini"


def test_prefix_applies_only_up_to_a_separator():
    a_price("acme-1")

    assert price_for("acme-1-preview").model == "acme-1"
    assert price_for("acme-10") is None


def test_unknown_model_has_no_price():
    assert price_for("someone-elses-model") is None


def test_cached_input_tokens_are_billed_at_the_cached_price():
    price = a_price(prompt="2.50", cached="1.25", output="10.00")
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cached_input_tokens=400_000)

    cost = cost_of(usage, price)

    # 600k uncached at 2.50 + 400k cached at 1.25 + 100k output at 10.00, per million
    assert cost == Decimal("3.000000")


def test_cost_is_rounded_to_the_micro_dollar():
    price = a_price(prompt="0.15", cached="0.075", output="0.60")

    assert cost_of(Usage(input_tokens=7), price) == Decimal("0.000001")


def test_no_price_costs_nothing():
    assert cost_of(Usage(input_tokens=1000, output_tokens=1000), None) == Decimal(0)


def test_price_snapshot_holds_the_prices_as_strings():
    price = a_price("acme-1", "2.5", "1.25", "10")

    assert price_snapshot(price) == {
        "model": "acme-1",
        "input_per_mtok": "2.500000",
        "cached_input_per_mtok": "1.250000",
        "output_per_mtok": "10.000000",
        "effective_from": "2000-01-01T00:00:00+00:00",
        "prompt_tokens_above": 0,
        "local": False,
    }
