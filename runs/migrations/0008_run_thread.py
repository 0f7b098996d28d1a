"""Runs point at their Thread; the runs given a `thread` before threads existed get one each."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def threads_for_existing_runs(apps, schema_editor):
    Run, Thread = apps.get_model("runs", "Run"), apps.get_model("memory", "Thread")
    pairs = Run.objects.exclude(thread="").values_list("tenant_id", "thread").distinct()
    for tenant_id, external_id in pairs.order_by():
        thread, _ = Thread.objects.get_or_create(tenant_id=tenant_id, external_id=external_id)
        Run.objects.filter(tenant_id=tenant_id, thread=external_id).update(thread_ref=thread)


class Migration(migrations.Migration):

    dependencies = [
        ('memory', '0002_thread'),
        ('runs', '0007_backfill_rollups'),
        ('tenancy', '0004_membership_attributes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='run',
            name='thread_ref',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='runs', to='memory.thread'),
        ),
        migrations.AlterField(
            model_name='run',
            name='waiting_reason',
            field=models.CharField(blank=True, choices=[('approval', 'Approval'), ('timer', 'Timer'), ('child', 'Child run'), ('in_doubt', 'In-doubt step'), ('thread', 'Thread (another run of the thread is active)')], max_length=20),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('thread_ref__isnull', False)), fields=['thread_ref', 'created_at'], name='run_thread_order'),
        ),
        migrations.RunPython(threads_for_existing_runs, migrations.RunPython.noop),
    ]
