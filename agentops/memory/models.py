"""Thread and long-term memory (scoped to user, agent or tenant). Filled in by the memory work."""

from django.conf import settings
from django.db import models


class ThreadConcurrency(models.TextChoices):
    """What a new run in a thread does while another run of the thread is active."""

    QUEUE = "queue", "Queue: wait for the active run to end"
    REJECT = "reject", "Reject: refuse the new run (409 thread_busy)"
    INTERRUPT = "interrupt", "Interrupt: cancel the active run, start the new one"


class Thread(models.Model):
    """A conversation across runs: the runs given the same `thread` string. Its runs' user
    messages and final answers are the history a new run starts with; turns past the agent's
    context budget are folded into `summary` (their raw text stays in the runs' journals)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    external_id = models.CharField(max_length=200, help_text="The `thread` string clients send with runs.")
    title = models.CharField(max_length=200, blank=True)
    concurrency = models.CharField(max_length=10, choices=ThreadConcurrency.choices, default=ThreadConcurrency.QUEUE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    summary = models.TextField(blank=True, help_text="The model's summary of the thread's older turns.")
    # The last run whose turn the summary covers (no foreign key: runs sit above memory).
    summary_through_run = models.UUIDField(null=True, blank=True)
    summary_turns = models.PositiveIntegerField(default=0, help_text="How many turns the summary covers.")
    last_prompt_tokens = models.PositiveIntegerField(
        default=0, help_text="Prompt tokens the model reported for the thread's latest main call.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "external_id"], name="thread_external_id_unique")]
        indexes = [models.Index(fields=["tenant", "created_by", "created_at", "id"], name="thread_list_created_by"),
                   models.Index(fields=["tenant", "created_at", "id"], name="thread_list")]

    def __str__(self):
        return f"thread {self.external_id}"
