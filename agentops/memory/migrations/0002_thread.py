"""Threads: conversations across runs, with their summary and concurrency policy."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('memory', '0001_initial'),
        ('tenancy', '0004_membership_attributes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Thread',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('external_id', models.CharField(help_text='The `thread` string clients send with runs.', max_length=200)),
                ('title', models.CharField(blank=True, max_length=200)),
                ('concurrency', models.CharField(choices=[('queue', 'Queue: wait for the active run to end'), ('reject', 'Reject: refuse the new run (409 thread_busy)'), ('interrupt', 'Interrupt: cancel the active run, start the new one')], default='queue', max_length=10)),
                ('summary', models.TextField(blank=True, help_text="The model's summary of the thread's older turns.")),
                ('summary_through_run', models.UUIDField(blank=True, null=True)),
                ('summary_turns', models.PositiveIntegerField(default=0, help_text='How many turns the summary covers.')),
                ('last_prompt_tokens', models.PositiveIntegerField(default=0, help_text="Prompt tokens the model reported for the thread's latest main call.")),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['tenant', 'created_by', 'created_at', 'id'], name='thread_list_created_by'), models.Index(fields=['tenant', 'created_at', 'id'], name='thread_list')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'external_id'), name='thread_external_id_unique')],
            },
        ),
    ]
