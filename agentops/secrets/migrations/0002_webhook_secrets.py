"""Webhooks' signing secrets move into their tenants' secrets.

Before, a webhook's `{{ secret:NAME }}` was read from the process environment (variable NAME) or
the secrets file; now only from its tenant's secrets. So that existing webhooks keep signing, each
value found where it used to be is stored, encrypted, as the tenant's secret NAME, unless the
tenant already has one by that name. A value found nowhere is left for the tenant to set; the
delivery's error names the missing secret until then. Run this migration with the environment the
webhooks were delivered with. Reversing it keeps the copied secrets (they are the tenants' now).
"""

import os

from django.conf import settings
from django.db import migrations

from agentops.secrets.crypto import encrypt
from agentops.secrets.models import last_four
from agentops.secrets.references import REFERENCE
from agentops.secrets.resolver import load_secrets_file


def copy_webhook_secrets(apps, schema_editor):
    alias = schema_editor.connection.alias
    webhooks = apps.get_model("webhooks", "Webhook").objects.using(alias)
    tenant_secrets = apps.get_model("secrets", "TenantSecret").objects.using(alias)
    file_values = load_secrets_file(settings.AGENTOPS_SECRETS_FILE) if settings.AGENTOPS_SECRETS_FILE else {}
    for tenant_id, reference in webhooks.values_list("tenant_id", "secret").distinct():
        match = REFERENCE.fullmatch(reference.strip())
        if match is None:
            continue
        name = match.group(1)
        value = os.environ.get(name, file_values.get(name))
        if value and not tenant_secrets.filter(tenant_id=tenant_id, name=name).exists():
            tenant_secrets.create(tenant_id=tenant_id, name=name, encrypted_value=encrypt(value),
                                  last_four=last_four(value))


class Migration(migrations.Migration):

    dependencies = [
        ("secrets", "0001_initial"),
        ("webhooks", "0003_pending_index"),
    ]

    operations = [migrations.RunPython(copy_webhook_secrets, migrations.RunPython.noop)]
