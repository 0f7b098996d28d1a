from django.db import models


class ModelPrice(models.Model):
    """List price of a model in USD per million tokens; see `pricing.price_for` for how a
    dated model name ("gpt-4o-mini-2024-07-18") finds its row ("gpt-4o-mini")."""

    model = models.CharField(max_length=200, unique=True)
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per 1M input tokens.")
    cached_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, help_text="USD per 1M input tokens served from the prompt cache."
    )
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per 1M output tokens.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]

    def __str__(self):
        return self.model
