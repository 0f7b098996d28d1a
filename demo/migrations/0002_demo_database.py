"""The demo's tables move to the demo database (alias "demo", see demo.routers and settings).

In the demo database, 0001 created them; here their references to tenants, runs and users lose
their database constraints (those rows stay in the platform's database). In the platform's
database, the demo tables earlier versions kept there are dropped, rows included: they were demo
data, and `seed_demo` fills the demo database afresh. Without the drop, their constraints would
stop a tenant with demo rows from being deleted.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DEMO_MODELS = ("DemoRefund", "DemoOrder", "DemoTicket", "DemoArticle", "DemoCustomer")  # referencing first


def drop_platform_copies(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in DEMO_MODELS:
        model = apps.get_model("demo", name)
        if model._meta.db_table in existing:
            schema_editor.delete_model(model)


class Migration(migrations.Migration):

    dependencies = [
        ('demo', '0001_initial'),
        ('runs', '0003_engine_indexes'),
        ('tenancy', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='demoarticle',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenancy.tenant'),
        ),
        migrations.AlterField(
            model_name='democustomer',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenancy.tenant'),
        ),
        migrations.AlterField(
            model_name='demoorder',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenancy.tenant'),
        ),
        migrations.AlterField(
            model_name='demorefund',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenancy.tenant'),
        ),
        migrations.AlterField(
            model_name='demoticket',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='demoticket',
            name='run',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='runs.run'),
        ),
        migrations.AlterField(
            model_name='demoticket',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenancy.tenant'),
        ),
        migrations.RunPython(drop_platform_copies, migrations.RunPython.noop, hints={"platform_database": True}),
    ]
