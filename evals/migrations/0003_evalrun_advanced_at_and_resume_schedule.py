"""EvalRun.advanced_at, and the minute's schedule that resumes eval runs whose passes stopped."""

from django.db import migrations, models

NAME = "agentops.evals.resume"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "evals.tasks.eval_runs_resume_stale", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('evals', '0002_evalcase_threshold'),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name='evalrun',
            name='advanced_at',
            field=models.DateTimeField(blank=True, help_text='The last pass over it (evals.services).', null=True),
        ),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
