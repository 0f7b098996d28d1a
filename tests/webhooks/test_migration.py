"""Moving the webhook tables from approvals to their own app keeps every row, id and grant."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_q.models import Schedule

from agentops.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from agentops.webhooks.services import webhook_emit, webhook_sweep

pytestmark = pytest.mark.django_db(transaction=True)

OLD_LAYOUT = [("approvals", "0003_webhooks")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    return executor.loader.project_state(targets).apps if targets else None


def test_moving_webhooks_to_their_own_app_keeps_every_row():
    old = migrate(OLD_LAYOUT)
    assert {"approvals_webhook", "approvals_webhookdelivery"} <= set(connection.introspection.table_names())
    # A database of the old layout: a webhook, a delivered event, a retry waiting in a schedule,
    # and a group allowed to change webhooks.
    tenant = old.get_model("tenancy", "Tenant").objects.create(name="Acme", slug="acme")
    hook = old.get_model("approvals", "Webhook").objects.create(
        tenant_id=tenant.pk, name="ops", url="http://127.0.0.1:9/hook", secret="{{ secret:ACME_WEBHOOK_SECRET }}",
        events=["*"])
    Delivery = old.get_model("approvals", "WebhookDelivery")
    now = timezone.now()
    delivered = Delivery.objects.create(webhook_id=hook.pk, uuid=uuid.uuid4(), event="run.succeeded",
                                        payload={"id": "a"}, status="succeeded", attempts=1, response_code=200,
                                        delivered_at=now)
    retrying = Delivery.objects.create(webhook_id=hook.pk, uuid=uuid.uuid4(), event="run.failed",
                                       payload={"id": "b"}, attempts=2, response_code=503, error="HTTP 503",
                                       last_attempt_at=now - timedelta(minutes=2), next_attempt_at=now)
    Schedule.objects.create(name=f"webhook delivery {retrying.pk} attempt 3", func="approvals.tasks.deliver_webhook",
                            args=repr(retrying.pk), schedule_type=Schedule.ONCE, repeats=-1, next_run=now)
    content_type = ContentType.objects.get(app_label="approvals", model="webhook")
    editors = Group.objects.create(name="webhook editors")
    editors.permissions.add(Permission.objects.get(content_type=content_type, codename="change_webhook"))

    migrate(None)

    tables = set(connection.introspection.table_names())
    assert {"webhooks_webhook", "webhooks_webhookdelivery"} <= tables and "approvals_webhook" not in tables
    moved = Webhook.objects.get()
    assert (moved.pk, moved.tenant_id, moved.url, moved.events) == (hook.pk, tenant.pk, hook.url, ["*"])
    rows = {d.pk: d for d in WebhookDelivery.objects.all()}
    assert rows.keys() == {delivered.pk, retrying.pk}
    assert rows[delivered.pk].uuid == delivered.uuid and rows[delivered.pk].status == DeliveryStatus.SUCCEEDED
    assert rows[retrying.pk].payload == {"id": "b"} and rows[retrying.pk].attempts == 2
    assert all(d.webhook_id == hook.pk for d in rows.values())
    # The retry no longer waits for a schedule of a task that is gone: the sweeper queues it.
    assert not Schedule.objects.filter(func="approvals.tasks.deliver_webhook").exists()
    assert webhook_sweep(now=timezone.now()) == 1
    # Grants follow the model, and new rows continue the ids.
    assert ContentType.objects.get_for_model(Webhook).pk == content_type.pk
    assert list(editors.permissions.values_list("content_type__app_label", "codename")) == [
        ("webhooks", "change_webhook")]
    [new] = webhook_emit(tenant=moved.tenant, event="run.failed", payload={})
    assert new.pk > retrying.pk
