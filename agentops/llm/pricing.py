"""Turning token usage into money, from the `ModelPrice` table."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .base import Usage
from .models import ModelPrice

MILLION = Decimal(1_000_000)
MICRO_DOLLAR = Decimal("0.000001")

# A price row applies to the dated and suffixed variants of its model: "gpt-4o-mini" prices
# "gpt-4o-mini-2024-07-18". Prefixes end only where one of these follows, so "gpt-4" would not
# price "gpt-4o" or "gpt-4.1".
SEPARATORS = "-:@"


def price_for(model: str) -> ModelPrice | None:
    """The price of `model`: its own row, else the longest row whose name is a prefix of it
    ending at a separator. None when no row applies. One query."""
    if not model:
        return None
    names = _prefixes(model)
    prices = {price.model: price for price in ModelPrice.objects.filter(model__in=names)}
    return next((prices[name] for name in names if name in prices), None)


def cost_of(usage: Usage, price: ModelPrice | None) -> Decimal:
    """USD cost of `usage`, to the micro-dollar. Cached input tokens are billed at the cached
    price and the rest of the input at the input price. No price costs nothing."""
    if price is None:
        return Decimal(0)
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    total = (
        (usage.input_tokens - cached) * price.input_per_mtok
        + cached * price.cached_input_per_mtok
        + usage.output_tokens * price.output_per_mtok
    ) / MILLION
    return total.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP)


def price_snapshot(price: ModelPrice | None) -> dict:
    """The prices used for a step, as strings, so the step keeps its cost basis after the table
    changes. Empty when there was no price."""
    if price is None:
        return {}
    return {
        "model": price.model,
        "input_per_mtok": _six_places(price.input_per_mtok),
        "cached_input_per_mtok": _six_places(price.cached_input_per_mtok),
        "output_per_mtok": _six_places(price.output_per_mtok),
    }


def _six_places(value) -> str:
    # The column's own precision, whether the row came from the database or was just built.
    return str(Decimal(value).quantize(MICRO_DOLLAR))


def _prefixes(model: str) -> list[str]:
    """`model` and its prefixes that end before a separator, longest first."""
    return [model] + [model[:i] for i in range(len(model) - 1, 0, -1) if model[i] in SEPARATORS]
