from django.db import migrations

from runs.rollups import rollups_rebuild


def backfill(apps, schema_editor):
    """Every run that has ended, in the rollups (runs ended from now on are added as they end)."""
    rollups_rebuild(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [("runs", "0006_run_and_tool_rollups")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
