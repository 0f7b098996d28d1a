"""Long-term memory: items scoped to a user, an agent or the whole tenant; and threads, the
conversations across runs.

An item's text is indexed for full-text search on each database (migration 0001: an FTS5 table
with the porter stemmer on SQLite, a stored English tsvector with a GIN index on PostgreSQL) and,
when an embeddings model is configured, embedded off the hot path (agentops.memory.embeddings).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MemoryScope(models.TextChoices):
    USER = "user", "User"  # subject: the username
    AGENT = "agent", "Agent"  # subject: the agent's slug
    TENANT = "tenant", "Tenant"  # subject: ""


class MemoryKind(models.TextChoices):
    FACT = "fact", "Fact"
    PREFERENCE = "preference", "Preference"
    SUMMARY = "summary", "Summary"
    EPISODE = "episode", "Episode"


class EmbeddingState(models.TextChoices):
    PENDING = "pending", "Pending"  # to embed once a model is configured (task after save, backfill)
    READY = "ready", "Ready"


class MemoryItem(models.Model):
    # An integer key: on SQLite it is the rowid, which the FTS5 table shares.
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(max_length=10, choices=MemoryScope.choices)
    subject = models.CharField(max_length=150, blank=True, help_text="Username, agent slug, or empty for the tenant.")
    kind = models.CharField(max_length=20, choices=MemoryKind.choices, default=MemoryKind.FACT)
    content = models.TextField(help_text="At most AGENTOPS_MEMORY_MAX_CONTENT_CHARS characters.")
    metadata = models.JSONField(default=dict, blank=True)
    # Normalised text's SHA-256: the same words in the same (tenant, scope, subject) are one item.
    content_hash = models.CharField(max_length=64, editable=False)

    # Provenance of the latest write. No foreign key to runs: runs sit above memory.
    source_run = models.UUIDField(null=True, blank=True)
    source_step = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    embedding_state = models.CharField(max_length=10, choices=EmbeddingState.choices, default=EmbeddingState.PENDING)
    embedding_model = models.CharField(max_length=100, blank=True)
    embedding = models.BinaryField(null=True, blank=True, editable=False, help_text="float32 vector, little-endian.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "scope", "subject", "content_hash"], name="memory_item_dedupe"),
        ]
        indexes = [
            models.Index(fields=["tenant", "scope", "subject", "created_at", "id"], name="memory_item_subject"),
            models.Index(fields=["tenant", "created_at", "id"], name="memory_item_list"),
            models.Index(fields=["expires_at"], name="memory_item_expiry", condition=models.Q(expires_at__isnull=False)),
            models.Index(fields=["embedding_state"], name="memory_item_to_embed",
                         condition=models.Q(embedding_state="pending")),
        ]

    def __str__(self):
        # Never the content: this label goes into the audit log, which forgetting cannot edit.
        return f"memory item {self.pk} ({self.scope}:{self.subject or '-'}, {self.kind})"


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
