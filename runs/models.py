"""Runs and their step journal.

The journal (Step rows) is at once the run's checkpoint, its trace and its audit trail: every
`ctx` call of a workflow is one step, identified by its sequence number in the run.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
UNFINISHED_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


class RunOutcome(models.TextChoices):
    """How a run stands, honestly: its status, except that a run that succeeded although one of its
    tool calls ended in an error (the model talked around it) is `succeeded_with_errors`."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors", "Succeeded with errors"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def run_outcome(status: str, tool_errors: int) -> str:
    """The RunOutcome of a run with this status and count of failed tool calls."""
    if status == RunStatus.SUCCEEDED and tool_errors:
        return RunOutcome.SUCCEEDED_WITH_ERRORS
    return status


# Runs an eval run started carry {"eval": {"eval_run": id, "case": id, "repeat": n}} in their
# metadata (evals.runner); the runs list filters on it.
EVAL_METADATA_KEY = "eval"

# Input and output previews keep this many characters: enough for a list row and for search.
PREVIEW_CHARS = 300


class WaitingReason(models.TextChoices):
    APPROVAL = "approval", "Approval"
    TIMER = "timer", "Timer"
    CHILD = "child", "Child run"
    IN_DOUBT = "in_doubt", "In-doubt step"
    THREAD = "thread", "Thread (another run of the thread is active)"


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: the list's indexes below lead with (tenant, key). Deleting a user or
    # an agent (rare, and PROTECT refuses the agent anyway) scans the tenant's runs.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="runs", db_index=False)
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="runs", db_index=False)
    agent_version = models.ForeignKey("agents.AgentVersion", on_delete=models.PROTECT, related_name="runs",
                                      db_index=False)
    workflow = models.CharField(max_length=100)

    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    waiting_reason = models.CharField(max_length=20, choices=WaitingReason.choices, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True, help_text="When a timer wait is due.")
    cancel_requested = models.BooleanField(default=False)

    input = models.JSONField(default=dict)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text='{"code": ..., "message": ...}')
    metadata = models.JSONField(default=dict, blank=True)
    thread = models.CharField(max_length=200, blank=True)
    # The Thread row of `thread` (agentops.memory): its history, summary and concurrency policy.
    thread_ref = models.ForeignKey("memory.Thread", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="runs", db_index=False)
    # Short texts of the input and of the output (or error), written with them (runs/preview.py):
    # the list shows and searches these, never the JSON.
    input_preview = models.CharField(max_length=PREVIEW_CHARS, blank=True)
    output_preview = models.CharField(max_length=PREVIEW_CHARS, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    api_key = models.ForeignKey("tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    parent_step_seq = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)

    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    executions = models.PositiveIntegerField(default=0, help_text="Times a worker claimed the run.")
    active_seconds = models.FloatField(default=0, help_text="Time spent executing, waits excluded.")

    step_count = models.PositiveIntegerField(default=0)
    tool_errors = models.PositiveIntegerField(default=0, help_text="Tool calls that ended in an error.")
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    legal_hold = models.BooleanField(default=False, db_default=False,
                                     help_text="Kept whole, whatever the tenant's retention: set and cleared by owners.")
    payload_purged_at = models.DateTimeField(
        null=True, blank=True, help_text="When retention purged the run's payloads (inputs, prompts, results).")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="run_idempotency_key_unique_per_tenant",
            )
        ]
        # Every index on `status` is rewritten when a run is claimed, parks or ends: no more than
        # the queries need. (status, created_at) is the queue, oldest first (run_claim_next).
        # The runs list pages newest first by (created_at, id) under each of its filters
        # (runs/selectors.py): an index per filter serves that order, so a page reads its rows
        # and no more. The others are written once, when the run is created.
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="run_list"),
            models.Index(fields=["tenant", "status", "created_at", "id"], name="run_list_status"),
            models.Index(fields=["tenant", "status", "created_at", "id"], name="run_list_with_errors",
                         condition=models.Q(status=RunStatus.SUCCEEDED, tool_errors__gt=0)),
            models.Index(fields=["tenant", "agent", "created_at", "id"], name="run_list_agent"),
            models.Index(fields=["tenant", "agent_version", "created_at", "id"], name="run_list_version"),
            models.Index(fields=["tenant", "created_by", "created_at", "id"], name="run_list_created_by"),
            models.Index(fields=["tenant", "on_behalf_of", "created_at", "id"], name="run_list_on_behalf_of"),
            models.Index(fields=["tenant", "thread", "created_at", "id"], name="run_list_thread"),
            # A thread's runs in order: its history, and whether one of them is active.
            models.Index(fields=["thread_ref", "created_at"], name="run_thread_order",
                         condition=models.Q(thread_ref__isnull=False)),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["status", "wake_at"]),
            # Retention's candidates: a tenant's runs that still hold payloads and are not held, by end.
            models.Index(fields=["tenant", "finished_at"], name="run_payload_purge",
                         condition=models.Q(payload_purged_at__isnull=True, legal_hold=False)),
        ]

    def __str__(self):
        return f"run {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def outcome(self) -> str:
        return run_outcome(self.status, self.tool_errors)

    @property
    def outcome_label(self) -> str:
        return RunOutcome(self.outcome).label

    @property
    def end_user(self):
        """Whose permissions bound the run: the user it acts for, else who started it."""
        return self.on_behalf_of or self.created_by

    @property
    def duration_seconds(self) -> float | None:
        """Wall-clock time from the start to the end, or to now while the run is not finished
        (a waiting run's time so far, not its last write). `active_seconds` is the part spent
        executing."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class StepKind(models.TextChoices):
    LLM = "llm", "Model call"
    TOOL = "tool", "Tool call"
    APPROVAL = "approval", "Approval"
    MEMORY = "memory", "Memory"
    SLEEP = "sleep", "Sleep"
    CHILD = "child", "Child run"
    CODE = "code", "Code"


class StepStatus(models.TextChoices):
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    WAITING = "waiting", "Waiting"
    IN_DOUBT = "in_doubt", "In doubt"


class Step(models.Model):
    """One journaled `ctx` call. Large payloads are stored as {"$blob": sha256} references."""

    # No index of its own: the (run, seq) constraint's index leads with it, and every journal
    # INSERT would write one more index page.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps", db_index=False)
    seq = models.PositiveIntegerField()
    parent_seq = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=StepStatus.choices)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    tokens_cached = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    price = models.JSONField(null=True, blank=True, help_text="The price table row used for the cost.")

    class Meta:
        ordering = ["run_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="step_seq_unique_per_run")]

    def __str__(self):
        return f"#{self.seq} {self.kind} {self.name} ({self.status})"

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000


class Blob(models.Model):
    """A content-addressed payload, stored once however many steps refer to it."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    data = models.JSONField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class DailyUsage(models.Model):
    """Tokens and cost per tenant, agent and UTC day, kept with F() counters by every model call.

    Budgets read it before each model call; dashboards read it instead of summing steps.
    """

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    model_calls = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "agent", "day"], name="daily_usage_unique")]
        # Budgets sum a tenant's days of the month across its agents (runs.budgets).
        indexes = [models.Index(fields=["tenant", "day"], name="daily_usage_tenant_day")]


class BudgetWarning(models.Model):
    """A `budget.warning` sent: one per tenant, budget and period, so the webhook fires once when
    spend passes the warning threshold, not at every model call after it."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    budget = models.CharField(max_length=250, help_text='"tenant" or "agent:<slug>".')
    period = models.CharField(max_length=10, help_text="daily or monthly")
    period_start = models.DateField()
    spent = models.DecimalField(max_digits=14, decimal_places=6)
    limit = models.DecimalField(max_digits=12, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "budget", "period", "period_start"],
                                               name="budget_warning_once_per_period")]

    def __str__(self):
        return f"{self.budget} {self.period} {self.period_start}"


# Upper bounds (exclusive) of the latency buckets, in milliseconds: from a quick tool call to a
# run that waited a day for a person. A duration at or past the last bound falls in the open bucket.
LATENCY_BOUNDS_MS = (10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
                     300_000, 900_000, 3_600_000, 21_600_000, 86_400_000)
LATENCY_BUCKETS = (*(f"lt_{bound}ms" for bound in LATENCY_BOUNDS_MS), f"ge_{LATENCY_BOUNDS_MS[-1]}ms")


class Rollup(models.Model):
    """Counters of a tenant's agent on a UTC day: a cost, and durations counted in the buckets of
    LATENCY_BOUNDS_MS (one column each) and summed, so that rollups of any days and agents add up
    to one histogram from which p50 and p95 are read."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    cost = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    duration_ms = models.FloatField(default=0, help_text="Sum of the durations counted in the buckets.")

    class Meta:
        abstract = True


for _bucket in LATENCY_BUCKETS:
    Rollup.add_to_class(_bucket, models.IntegerField(default=0))


class RunRollup(Rollup):
    """Ended runs per tenant, agent, model, UTC day of creation, outcome (see
    runs.rollups.run_outcome) and error code, added in the transaction that ends a run (and taken back by a
    retry). The dashboard reads these instead of the runs. Durations are creation to end."""

    model = models.CharField(max_length=100)
    outcome = models.CharField(max_length=30)
    # A failed run's `error.code` (its first 100 characters); empty for every other outcome.
    error_code = models.CharField(max_length=100, blank=True, default="")
    runs = models.IntegerField(default=0)
    steps = models.BigIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "agent", "model", "day", "outcome", "error_code"],
                                               name="run_rollup_unique")]

    def __str__(self):
        return f"{self.day} {self.outcome}: {self.runs} runs"


class ToolRollup(Rollup):
    """Tool calls of ended runs per tenant, agent, tool and UTC day the run was created, added
    with the run's RunRollup. An error is a call that did not complete."""

    tool = models.CharField(max_length=200)
    calls = models.IntegerField(default=0)
    errors = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "agent", "tool", "day"], name="tool_rollup_unique")]

    def __str__(self):
        return f"{self.day} {self.tool}: {self.calls} calls"


class ModelCallRollup(Rollup):
    """Model calls of ended runs per tenant, agent, model and UTC day the run was created, added
    with the run's RunRollup (/metrics reads their latency). An error is a call that failed."""

    model = models.CharField(max_length=100)
    calls = models.IntegerField(default=0)
    errors = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "agent", "model", "day"],
                                               name="model_call_rollup_unique")]

    def __str__(self):
        return f"{self.day} {self.model}: {self.calls} calls"
