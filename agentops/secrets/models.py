"""A tenant's secrets: named values its tools and webhooks reference as `{{ secret:NAME }}`.

The value is stored encrypted (agentops.secrets.crypto) and never shown again once set: the API
and the admin show its name, its last four characters and who changed it when.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .references import NAME_MAX_LENGTH, NAME_PATTERN

# Values shorter than this show no last characters: four of six would give most of it away.
LAST_FOUR_MIN_LENGTH = 12
VALUE_MAX_BYTES = 64 * 1024


def last_four(value: str) -> str:
    return value[-4:] if len(value) >= LAST_FOUR_MIN_LENGTH else ""


class TenantSecret(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[RegexValidator(f"^{NAME_PATTERN}$", "Use letters, digits, '_', '.' or '-', e.g. CRM_TOKEN.")],
    )
    encrypted_value = models.TextField(help_text="Fernet token of the value (agentops.secrets.crypto).")
    last_four = models.CharField(max_length=4, blank=True,
                                 help_text=f"Empty for values shorter than {LAST_FOUR_MIN_LENGTH} characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="secret_name_unique_per_tenant")]

    def __str__(self):
        return self.name

    @property
    def masked(self) -> str:
        return f"…{self.last_four}" if self.last_four else "set"
