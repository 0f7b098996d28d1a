"""Eval suites, their cases, eval runs and their results.

An eval run executes every case of a suite `repeats` times, each as an ordinary `runs.Run` of the
suite's agent at one version, and scores each run's outcome with the case's assertions (and the
suite's default ones). Assertions are JSON in promptfoo's shape: `{"type", "value", "threshold",
"weight", ...}` (see evals/assertions/ and docs/evals.md).
"""

from django.conf import settings
from django.db import models


class EvalSuite(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="eval_suites")
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="eval_suites")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # promptfoo's `defaultTest`: assertions and vars every case gets besides its own.
    default_assertions = models.JSONField(default=list, blank=True)
    default_vars = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="eval_suite_name_unique_per_tenant")]

    def __str__(self):
        return self.name


class EvalCase(models.Model):
    suite = models.ForeignKey(EvalSuite, on_delete=models.CASCADE, related_name="cases")
    position = models.PositiveIntegerField(default=0, help_text="Order of the case in its suite.")
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    # What the run is started with: a message (the agent loop's chat input), else `input`.
    # `{{var}}` placeholders in the message are filled from the suite's default vars and `vars`.
    message = models.TextField(blank=True)
    input = models.JSONField(null=True, blank=True, help_text="The run's input when there is no message.")
    vars = models.JSONField(default=dict, blank=True)
    expected = models.JSONField(null=True, blank=True, help_text="Expected output or criteria, for people.")
    assertions = models.JSONField(default=list, blank=True, help_text='[{"type", "value", "threshold", "weight"}]')
    tags = models.JSONField(default=list, blank=True)
    threshold = models.FloatField(
        null=True, blank=True, help_text="promptfoo's test threshold: the case passes when its weighted score reaches it.")
    approval_decisions = models.JSONField(
        default=list, blank=True,
        help_text='Decisions for the approvals the run reaches, in order: [{"decision": "approve"|"reject", '
                  '"arguments": {...}, "comment": "..."}].',
    )
    tool_results = models.JSONField(
        default=list, blank=True,
        help_text='Recorded tool results served instead of calling the tool: [{"tool", "arguments"?, "output"}].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["suite", "position", "id"]

    def __str__(self):
        return self.name or f"case {self.pk}"


class EvalRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class EvalRun(models.Model):
    """One execution of a suite. `succeeded` says every case ran and was scored (whatever the scores);
    `failed` that the eval run itself could not complete. `summary` (evals/stats.py) holds the pass
    rate, the mean score per assertion type, cost, latency p50/p95 and, against the baseline, the
    counts of regressed / improved / flaky cases."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="eval_runs")
    suite = models.ForeignKey(EvalSuite, on_delete=models.CASCADE, related_name="eval_runs")
    agent_version = models.ForeignKey("agents.AgentVersion", on_delete=models.PROTECT, related_name="eval_runs")
    label = models.CharField(max_length=200, blank=True, help_text="A name to compare against later, e.g. a release.")
    repeats = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=20, choices=EvalRunStatus.choices, default=EvalRunStatus.QUEUED)
    baseline = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    total = models.PositiveIntegerField(default=0, help_text="Cases × repeats.")
    done = models.PositiveIntegerField(default=0, help_text="Results scored so far.")
    summary = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True, help_text='{"code": ..., "message": ...}')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    advanced_at = models.DateTimeField(null=True, blank=True, help_text="The last pass over it (evals.services).")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="eval_run_list"),
            models.Index(fields=["suite", "created_at", "id"], name="eval_run_list_suite"),
        ]

    def __str__(self):
        return f"eval run {self.pk} of {self.suite_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (EvalRunStatus.SUCCEEDED, EvalRunStatus.FAILED)


class EvalResultStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SCORED = "scored", "Scored"
    ERROR = "error", "Error"


class EvalResult(models.Model):
    """One case × repeat: the real run it executed and how each assertion scored it. A case whose
    run could not be started or scored is `error` (with `error`) and counts as failed."""

    eval_run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(EvalCase, on_delete=models.CASCADE, related_name="results")
    repeat_index = models.PositiveSmallIntegerField(default=0)
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=EvalResultStatus.choices, default=EvalResultStatus.PENDING)
    # [{"type", "passed", "score", "weight", "explanation", ...}] in the order of the assertions.
    assertions = models.JSONField(default=list, blank=True)
    score = models.FloatField(null=True, blank=True, help_text="Weighted mean of the assertions' scores.")
    passed = models.BooleanField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text='{"code": ..., "message": ...}')
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    latency_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]  # created case by case, repeat by repeat
        constraints = [
            models.UniqueConstraint(fields=["eval_run", "case", "repeat_index"], name="eval_result_one_per_repeat")
        ]

    def __str__(self):
        return f"result of case {self.case_id} #{self.repeat_index} in eval run {self.eval_run_id}"
