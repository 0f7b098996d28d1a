"""Agent versions: a memory policy and a context budget for thread history."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0004_agent_text_max_length'),
    ]

    operations = [
        migrations.AddField(
            model_name='agentversion',
            name='context_budget_tokens',
            field=models.PositiveIntegerField(default=8000, help_text="Prompt tokens a thread's history may fill; past it, older turns are summarised by the model."),
        ),
        migrations.AddField(
            model_name='agentversion',
            name='memory',
            field=models.JSONField(blank=True, default=dict, help_text='Long-term memory policy, e.g. {"read": ["user", "agent", "tenant"], "write": ["user"], "recall": 5, "extract": true}: scopes it may read and write, items recalled at the start of a run (0: none), and whether facts are extracted after each run. Empty: no memory.'),
        ),
    ]
