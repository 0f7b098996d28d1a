import hashlib

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from .roles import Role, role_grants


class BudgetPolicy(models.TextChoices):
    FAIL = "fail", "Fail the run"
    PAUSE = "pause", "Pause the run for an owner's approval"


class Tenant(models.Model):
    """An isolated customer of the platform: every row of every app belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    daily_cost_limit = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        help_text="USD the tenant's runs may spend per UTC day; empty for no limit.",
    )
    monthly_cost_limit = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        help_text="USD the tenant's runs may spend per UTC calendar month; empty for no limit.",
    )
    budget_policy = models.CharField(
        # db_default too: older code (a migration test's historical models) inserts tenants without it.
        max_length=10, choices=BudgetPolicy.choices, default=BudgetPolicy.FAIL, db_default=BudgetPolicy.FAIL,
        help_text="What a run does when a budget is used up before a model call: fail, or pause until an owner "
                  "raises the budget and approves.",
    )
    allow_self_approval = models.BooleanField(
        default=False, help_text="Let a user approve requests of runs they started."
    )
    payload_retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Days a finished run keeps its prompts, results and inputs (step payloads); then they are purged, "
                  "its totals, rollups and audit kept. Runs on legal hold are kept. Empty: kept forever.",
    )
    api_rate_read_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="API reads (GET) each API key, or each signed-in user, may make per minute; "
                  "empty for the platform default (API_RATE_READ_PER_MINUTE).",
    )
    api_rate_write_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="API writes (POST, PUT, PATCH, DELETE) each API key, or each signed-in user, may make "
                  "per minute; empty for the platform default (API_RATE_WRITE_PER_MINUTE).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.slug

    def api_rate_per_minute(self, *, write: bool) -> int:
        """How many API requests of this kind one key (or signed-in user) may make per minute."""
        if write:
            return self.api_rate_write_per_minute or settings.API_RATE_WRITE_PER_MINUTE
        return self.api_rate_read_per_minute or settings.API_RATE_READ_PER_MINUTE


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    attributes = models.JSONField(
        default=dict, blank=True,
        help_text='What tool rules may read of this member in this tenant, e.g. {"customer_id": "C-1001"}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")]

    def __str__(self):
        return f"{self.user} in {self.tenant} as {self.role}"

    def grants(self, permission: str) -> bool:
        return role_grants(self.role, permission)


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read everything the key's user may see"
    RUNS_WRITE = "runs:write", "Start and cancel runs"
    APPROVALS_WRITE = "approvals:write", "Decide approval requests"
    TOOLS_WRITE = "tools:write", "Register and change tools"
    AGENTS_WRITE = "agents:write", "Create and change agents"
    MEMBERS_WRITE = "members:write", "Change members' attributes (owners)"
    EVALS_WRITE = "evals:write", "Create eval suites and cases, start eval runs"
    BUDGETS_WRITE = "budgets:write", "Change cost budgets (owners)"
    RUNS_HOLD = "runs:hold", "Put runs on legal hold and take them off (owners)"
    MEMORY_WRITE = "memory:write", "Save, change and forget memory items"


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A tenant-scoped bearer key. Only its SHA-256 is stored; the key is shown once.

    A key acts as `user` (a member of its tenant) and its scopes narrow what that user may do:
    a key never does more than its user's role allows.
    """

    PREFIX_LENGTH = 12  # "ak_" + 9 random characters, stored in clear to identify the key

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(raw_key: str) -> str:
        # Keys carry 256 bits of randomness, so a fast hash is safe and keeps lookups O(1).
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class TenantGroup(models.Model):
    """Makes a group of users a tenant's (its approver groups, say): the tenant's staff see, fill
    and assign only their tenant's groups in the admin. A group without one is the platform's."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, primary_key=True, related_name="tenant_link")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups")

    def __str__(self):
        return f"{self.group} of {self.tenant}"
