"""The webhook models, taken over from approvals (approvals.0004 renamed their tables): state only.

The state is that of the tables as approvals left them, index name included; later migrations
change it like any other.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models

import agentops.webhooks.models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("approvals", "0004_webhooks_move_to_core"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Webhook",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("url", models.URLField(max_length=500)),
                        ("secret", models.CharField(help_text="A secret reference, e.g. {{ secret:ACME_WEBHOOK_SECRET }}; the value signs every delivery.", max_length=200, validators=[agentops.webhooks.models.validate_secret_reference])),
                        ("events", models.JSONField(blank=True, default=list, help_text='Event names, e.g. ["approval.requested", "run.failed"]; "*" for all.')),
                        ("active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="webhooks", to="tenancy.tenant")),
                    ],
                    options={
                        "ordering": ["tenant_id", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("event", models.CharField(max_length=100)),
                        ("payload", models.JSONField(help_text="The JSON body, as sent.")),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("succeeded", "Succeeded"), ("failed", "Failed")], default="pending", max_length=20)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("response_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("webhook", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="webhooks.webhook")),
                    ],
                    options={
                        "verbose_name_plural": "webhook deliveries",
                        "ordering": ["-created_at"],
                        "indexes": [models.Index(fields=["status", "next_attempt_at"], name="approvals_w_status_d63407_idx")],
                    },
                ),
            ],
        ),
    ]
