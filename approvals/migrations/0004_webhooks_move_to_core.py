"""Webhooks leave approvals for the core app `webhooks` (agentops/webhooks), rows and all.

The tables are renamed to the names Django gives them in the new app, and the models leave
approvals' state; `webhooks.0001_initial` takes them into its own state without touching the
database. Nothing is copied, so no row, id or foreign key changes.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("approvals", "0003_webhooks")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="webhook", table="webhooks_webhook"),
                migrations.AlterModelTable(name="webhookdelivery", table="webhooks_webhookdelivery"),
            ],
            state_operations=[
                migrations.DeleteModel(name="WebhookDelivery"),
                migrations.DeleteModel(name="Webhook"),
            ],
        ),
    ]
