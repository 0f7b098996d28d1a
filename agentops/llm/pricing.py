"""Turning token usage into money, from the `ModelPrice` table."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from .base import Usage
from .models import ModelPrice

MILLION = Decimal(1_000_000)
MICRO_DOLLAR = Decimal("0.000001")

# A price row applies to the dated and suffixed variants of its model: "gpt-4o-mini" prices
# "gpt-4o-mini-2024-07-18". Prefixes end only where one of these follows, so "gpt-4" would not
# price "gpt-4o" or "gpt-4.1".
SEPARATORS = "-:@"


def price_for(model: str, *, at: datetime | None = None, prompt_tokens: int = 0) -> ModelPrice | None:
    """The price of `model` at `at` (default: now) for a prompt of `prompt_tokens`: see price_pick.
    None when no row applies. One query."""
    return price_pick(price_rows(model), model, at=at or timezone.now(), prompt_tokens=prompt_tokens)


def price_rows(model: str) -> list[ModelPrice]:
    """Every row, of every date and tier, that may price `model`: its own name's and its prefixes'.
    What a caller caches (see config_cache) to pick from for each call."""
    return list(ModelPrice.objects.filter(model__in=_prefixes(model))) if model else []


def price_pick(rows: list[ModelPrice], model: str, *, at: datetime, prompt_tokens: int) -> ModelPrice | None:
    """Among `rows`, the price for a call of `model` at `at` with a prompt of `prompt_tokens`: the
    rows of its own name, else of the longest prefix ending at a separator, that are in effect at
    `at`; of those, the tier with the highest threshold the prompt is above."""
    for name in _prefixes(model):
        in_effect = [row for row in rows if row.model == name and row.in_effect(at)]
        if in_effect:
            return max((row for row in in_effect if row.covers(prompt_tokens)),
                       key=lambda row: row.prompt_tokens_above, default=None)
    return None


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
        "effective_from": price.effective_from.isoformat(),
        "prompt_tokens_above": price.prompt_tokens_above,
        "local": price.local,
    }


def _six_places(value) -> str:
    # The column's own precision, whether the row came from the database or was just built.
    return str(Decimal(value).quantize(MICRO_DOLLAR))


def _prefixes(model: str) -> list[str]:
    """`model` and its prefixes that end before a separator, longest first."""
    return [model] + [model[:i] for i in range(len(model) - 1, 0, -1) if model[i] in SEPARATORS]
