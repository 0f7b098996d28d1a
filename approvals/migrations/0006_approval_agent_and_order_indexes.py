"""Each request carries its run's agent (the inbox filters on it through an index), and the lists'
indexes end in (created_at, id), the keyset pagination's order. The agent is added empty, filled
from the runs, and made required in the next migration (each in its own transaction)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_agents(apps, schema_editor):
    ApprovalRequest = apps.get_model("approvals", "ApprovalRequest")
    Run = apps.get_model("runs", "Run")
    ApprovalRequest.objects.filter(agent__isnull=True).update(
        agent_id=Subquery(Run.objects.filter(pk=OuterRef("run_id")).values("agent_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_timeout_help"),
        ("approvals", "0005_deliver_decided_outcomes"),
        ("runs", "0003_engine_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="approvalrequest",
            name="agent",
            field=models.ForeignKey(null=True, on_delete=models.PROTECT, related_name="+", to="agents.agent"),
        ),
        migrations.RunPython(fill_agents, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="approvalrequest", name="approvals_a_tenant__51b93f_idx"),
        migrations.AddIndex(
            model_name="approvalrequest",
            index=models.Index(fields=["tenant", "status", "created_at", "id"], name="approval_status_order"),
        ),
        migrations.AddIndex(
            model_name="approvalrequest",
            index=models.Index(fields=["tenant", "created_at", "id"], name="approval_order"),
        ),
        migrations.AddIndex(
            model_name="approvalrequest",
            index=models.Index(fields=["tenant", "status", "agent", "created_at", "id"], name="approval_agent_order"),
        ),
        migrations.AddIndex(
            model_name="approvalrequest",
            index=models.Index(fields=["tenant", "status", "tool_name", "created_at", "id"],
                               name="approval_tool_order"),
        ),
    ]
