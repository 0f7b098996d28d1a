"""Anchor every chain's head hourly (agentops.audit.tasks.anchor), so no deployment has to set it
up by hand; the task does nothing until an anchor target is configured."""

from django.db import migrations

NAME = "agentops.audit_anchor"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "agentops.audit.tasks.anchor", "schedule_type": "H", "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_keyed_chain_and_triggers"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(create_schedule, delete_schedule)]
