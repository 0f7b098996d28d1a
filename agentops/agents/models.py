from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

MAX_CHILD_DEPTH = 10


class Agent(models.Model):
    """A named agent of a tenant. Its behaviour lives in immutable versions; runs pin one."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="agents")
    slug = models.SlugField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    restricted = models.BooleanField(
        default=False,
        help_text="Only the users and groups given access may start runs of this agent (they still need a role "
                  "that runs agents); unticked, every member whose role runs agents may.",
    )
    current_version = models.ForeignKey(
        "agents.AgentVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    daily_cost_limit = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        help_text="USD this agent's runs may spend per UTC day, within the tenant's budget; empty for no limit.",
    )
    monthly_cost_limit = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        help_text="USD this agent's runs may spend per UTC calendar month; empty for no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="agent_slug_unique_per_tenant")]
        ordering = ["slug"]
        permissions = [("start_agent", "Can start runs of this agent")]

    def __str__(self):
        return self.slug


class AgentVersion(models.Model):
    """One immutable configuration of an agent. Editing an agent creates the next version."""

    CONFIG_FIELDS = (
        "model", "provider", "provider_config", "system_prompt", "temperature", "tools",
        "workflow", "max_steps", "max_cost", "timeout_seconds", "child_workflows", "max_child_depth",
        "memory", "context_budget_tokens",
    )

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    model = models.CharField(max_length=100, default="gpt-4o-mini")
    provider = models.CharField(
        max_length=30, default="default",
        help_text="default (OpenAI when configured, else the offline demo model), openai, demo or scripted.",
    )
    provider_config = models.JSONField(default=dict, blank=True)
    system_prompt = models.TextField(blank=True, max_length=100_000)
    temperature = models.FloatField(null=True, blank=True)
    tools = models.JSONField(default=list, blank=True, help_text="Names of the tools this version may call.")
    workflow = models.CharField(max_length=100, default="agent_loop")
    max_steps = models.PositiveIntegerField(default=20)
    max_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True, help_text="USD per run.")
    timeout_seconds = models.PositiveIntegerField(
        default=600,
        help_text="How long a run may execute, in seconds. Time spent waiting for a person, a timer or a "
                  "child run does not count: approvals and timers have expiries of their own.",
    )
    child_workflows = models.JSONField(
        default=list, blank=True,
        help_text='Workflows this version may start as child runs (ctx.agent), e.g. ["agent_loop"]; empty: any.',
    )
    max_child_depth = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(MAX_CHILD_DEPTH)],
        help_text="How deep child runs may nest below a run of this version: 0 none, 1 children only, "
                  f"2 grandchildren too, up to {MAX_CHILD_DEPTH}.",
    )
    memory = models.JSONField(
        default=dict, blank=True,
        help_text='Long-term memory policy, e.g. {"read": ["user", "agent", "tenant"], "write": ["user"], '
                  '"recall": 5, "extract": true}: scopes it may read and write, items recalled at the start '
                  'of a run (0: none), and whether facts are extracted after each run. Empty: no memory.',
    )
    context_budget_tokens = models.PositiveIntegerField(
        default=8000,
        help_text="Prompt tokens a thread's history may fill; past it, older turns are summarised by the model.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not part of the configuration: an operational flag (`manage.py agents drain`), set by an
    # update, the one change a version takes. New runs may not pin a drained version.
    drained = models.BooleanField(default=False, db_default=False,
                                  help_text="New runs may not pin this version; runs already on it finish on it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "number"], name="agent_version_number_unique")]
        ordering = ["agent_id", "-number"]

    def __str__(self):
        return f"{self.agent.slug} v{self.number}"

    # A guard, not business logic: runs pin versions, so a version must never change under them.
    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("agent versions are immutable: create a new version instead")
        super().save(*args, **kwargs)

    def config(self) -> dict:
        return {name: getattr(self, name) for name in self.CONFIG_FIELDS}
