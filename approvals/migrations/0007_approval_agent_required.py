"""Every request has its run's agent now (filled by the previous migration)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("approvals", "0006_approval_agent_and_order_indexes")]

    operations = [
        migrations.AlterField(
            model_name="approvalrequest",
            name="agent",
            field=models.ForeignKey(on_delete=models.PROTECT, related_name="+", to="agents.agent"),
        ),
    ]
