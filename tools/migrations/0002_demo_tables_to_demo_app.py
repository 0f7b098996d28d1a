"""The demo tables leave this app for the `demo` app, whose migration 0001 takes them over.

The five models leave this app's state. Their tables, made by 0001, are renamed to the demo app's
names, rows, keys and constraints included, when the demo app is installed (indexes and foreign
keys keep the names 0001 gave them: Django finds those by their columns); when it is not
(AGENTOPS_DEMO=0) they are dropped, so that a deployment without the demo keeps no table of it
(were they kept, rows left in them would stop their tenant from being deleted: nothing would
cascade to them). The demo's 0001 creates whichever table is missing, should the demo be
installed later. Content types (and with them permissions and admin log entries) move to the
demo label in both cases.
"""

from django.apps import apps as installed_apps
from django.db import migrations

DEMO_MODELS = ("DemoCustomer", "DemoOrder", "DemoRefund", "DemoArticle", "DemoTicket")  # referenced first


def demo_table(model_name: str) -> str:
    return f"demo_{model_name.lower()}"


def hand_over(apps, schema_editor):
    keep = installed_apps.is_installed("demo")
    for name in reversed(DEMO_MODELS):  # referencing tables first, for the drops
        model = apps.get_model("tools", name)
        if keep:
            schema_editor.alter_db_table(model, model._meta.db_table, demo_table(name))
        else:
            schema_editor.delete_model(model)
    relabel_content_types(apps, schema_editor, old="tools", new="demo")


def take_back(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in DEMO_MODELS:
        model = apps.get_model("tools", name)
        if demo_table(name) in existing:
            schema_editor.alter_db_table(model, demo_table(name), model._meta.db_table)
        else:
            schema_editor.create_model(model)
    relabel_content_types(apps, schema_editor, old="demo", new="tools")


def relabel_content_types(apps, schema_editor, *, old: str, new: str):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    models = [name.lower() for name in DEMO_MODELS]
    taken = list(content_types.filter(app_label=new, model__in=models).values_list("model", flat=True))
    content_types.filter(app_label=old, model__in=models).exclude(model__in=taken).update(app_label=new)


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tools", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name) for name in reversed(DEMO_MODELS)],
            database_operations=[migrations.RunPython(hand_over, take_back)],
        ),
    ]
