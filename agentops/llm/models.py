from datetime import datetime, timezone

from django.core.exceptions import ValidationError
from django.db import models

# A price row in effect "since always": the rows that existed before prices had dates.
SINCE_ALWAYS = datetime(2000, 1, 1, tzinfo=timezone.utc)


class ModelPrice(models.Model):
    """List price of a model in USD per million tokens, in effect from `effective_from` until
    `effective_to` (empty: still in effect), for calls whose prompt is above `prompt_tokens_above`
    tokens (0: every call; a row with 200000 prices the long-context tier). A correction is a new
    row, or a changed one followed by `manage.py costs recompute`. See `pricing.price_for` for how
    a dated model name ("gpt-4o-mini-2024-07-18") finds its rows ("gpt-4o-mini")."""

    model = models.CharField(max_length=200)
    effective_from = models.DateTimeField(default=SINCE_ALWAYS, help_text="When this price starts to apply (UTC).")
    effective_to = models.DateTimeField(null=True, blank=True,
                                        help_text="When it stops applying (exclusive); empty: still in effect.")
    prompt_tokens_above = models.PositiveIntegerField(
        default=0, help_text="Applies to calls whose prompt has more tokens than this (0: every call); the row with "
                             "the highest threshold below the prompt's size wins.")
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per 1M input tokens.")
    cached_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, help_text="USD per 1M input tokens served from the prompt cache."
    )
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per 1M output tokens.")
    local = models.BooleanField(
        default=False, help_text="A model served on the platform's own machines: it costs nothing, and says so "
                                 "(its prices must be zero), rather than by a missing row.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "-effective_from", "prompt_tokens_above"]
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from", "prompt_tokens_above"],
                                    name="model_price_unique_per_start_and_tier"),
            models.CheckConstraint(condition=models.Q(effective_to__isnull=True)
                                   | models.Q(effective_to__gt=models.F("effective_from")),
                                   name="model_price_ends_after_it_starts"),
        ]

    def __str__(self):
        tier = f" above {self.prompt_tokens_above} prompt tokens" if self.prompt_tokens_above else ""
        return f"{self.model}{tier} from {self.effective_from:%Y-%m-%d}"

    def clean(self):
        if self.local and any((self.input_per_mtok, self.cached_input_per_mtok, self.output_per_mtok)):
            raise ValidationError("A local model costs nothing: set its prices to 0.")
        if self.effective_to is not None and self.effective_from and self.effective_to <= self.effective_from:
            raise ValidationError({"effective_to": "The price must end after it starts."})

    def in_effect(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)

    def covers(self, prompt_tokens: int) -> bool:
        return self.prompt_tokens_above == 0 or prompt_tokens > self.prompt_tokens_above
