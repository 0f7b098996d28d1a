from django.db import migrations


class Migration(migrations.Migration):
    """Filled the rollups from the runs ended before them. Now 0011_model_call_rollup does that
    (the rollups' code writes the column it adds, which this migration's models lack)."""

    dependencies = [("runs", "0006_run_and_tool_rollups")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
