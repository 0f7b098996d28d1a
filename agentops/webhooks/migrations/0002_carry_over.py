"""What else approvals' webhooks leave behind.

- Their content types now belong to `webhooks`, so the permissions granted on them (and admin
  history, object permissions) follow the models instead of going stale.
- Retries used to wait in django-q2 one-off schedules of `approvals.tasks.deliver_webhook`, which
  no longer exists. The deliveries keep their `next_attempt_at`: the sweeper queues them when due.
"""

from django.db import migrations

MODELS = ("webhook", "webhookdelivery")
OLD_RETRY_TASK = "approvals.tasks.deliver_webhook"


def content_types_move(apps, schema_editor, *, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MODELS:
        # A database migrated before the content types existed gets new ones after migrating.
        if not content_types.filter(app_label=target, model=model).exists():
            content_types.filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    content_types_move(apps, schema_editor, source="approvals", target="webhooks")
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(func=OLD_RETRY_TASK).delete()


def backwards(apps, schema_editor):
    content_types_move(apps, schema_editor, source="webhooks", target="approvals")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
