"""Seed the price table with OpenAI list prices (USD per 1M tokens: input, cached input, output).

Existing rows are left as they are, so prices edited in the admin survive. Reversing deletes
the rows of these model names.
"""

from decimal import Decimal

from django.db import migrations

PRICES = {
    "gpt-5": ("1.25", "0.125", "10.00"),
    "gpt-5-mini": ("0.25", "0.025", "2.00"),
    "gpt-5-nano": ("0.05", "0.005", "0.40"),
    "gpt-4.1": ("2.00", "0.50", "8.00"),
    "gpt-4.1-mini": ("0.40", "0.10", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.025", "0.40"),
    "gpt-4o": ("2.50", "1.25", "10.00"),
    "gpt-4o-mini": ("0.15", "0.075", "0.60"),
    "o3": ("2.00", "0.50", "8.00"),
    "o4-mini": ("1.10", "0.275", "4.40"),
    "demo": ("0", "0", "0"),
}


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("llm", "ModelPrice")
    for model, (prompt, cached, output) in PRICES.items():
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "input_per_mtok": Decimal(prompt),
                "cached_input_per_mtok": Decimal(cached),
                "output_per_mtok": Decimal(output),
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("llm", "ModelPrice").objects.filter(model__in=PRICES).delete()


class Migration(migrations.Migration):
    dependencies = [("llm", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
