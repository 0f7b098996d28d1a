"""The demo tables, taken over from the `tools` app (see its migration 0002, which runs first).

The models enter this app's state only: their tables exist already, renamed to this app's names
by tools 0002 with their rows. A table is created here only when it is missing, that is when
tools 0002 ran without this app installed (AGENTOPS_DEMO=0) and dropped it, and the demo was
installed afterwards. Unapplying this migration drops the tables, so `manage.py migrate demo zero`
before turning AGENTOPS_DEMO off removes the demo's data.
"""

from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DEMO_MODELS = ("DemoCustomer", "DemoOrder", "DemoRefund", "DemoArticle", "DemoTicket")  # referenced first


def create_missing_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in DEMO_MODELS:
        model = apps.get_model("demo", name)
        if model._meta.db_table not in existing:
            schema_editor.create_model(model)


def drop_tables(apps, schema_editor):
    for name in reversed(DEMO_MODELS):
        schema_editor.delete_model(apps.get_model("demo", name))


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("runs", "0001_initial"),
        ("tenancy", "0001_initial"),
        ("tools", "0002_demo_tables_to_demo_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DemoCustomer',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('customer_id', models.CharField(max_length=20)),
                        ('name', models.CharField(max_length=200)),
                        ('email', models.EmailField(max_length=254)),
                        ('plan', models.CharField(default='basic', max_length=20)),
                        ('since', models.DateField()),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
                    ],
                    options={
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'customer_id'), name='demo_customer_id_unique'), models.UniqueConstraint(fields=('tenant', 'email'), name='demo_customer_email_unique')],
                        'ordering': ['customer_id'],
                    },
                ),
                migrations.CreateModel(
                    name='DemoOrder',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('order_id', models.CharField(max_length=20)),
                        ('status', models.CharField(choices=[('processing', 'Processing'), ('shipped', 'Shipped'), ('delivered', 'Delivered'), ('cancelled', 'Cancelled'), ('refunded', 'Refunded')], default='processing', max_length=20)),
                        ('items', models.JSONField(default=list, help_text='[{"sku", "name", "quantity", "unit_price"}]')),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=10)),
                        ('refunded_amount', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=10)),
                        ('currency', models.CharField(default='USD', max_length=3)),
                        ('placed_at', models.DateTimeField()),
                        ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='orders', to='demo.democustomer')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
                    ],
                    options={
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'order_id'), name='demo_order_id_unique')],
                        'ordering': ['-placed_at'],
                    },
                ),
                migrations.CreateModel(
                    name='DemoRefund',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('idempotency_key', models.CharField(max_length=200, unique=True)),
                        ('request_hash', models.CharField(help_text='Of the request body, to spot a reused key.', max_length=64)),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=10)),
                        ('reason', models.CharField(blank=True, max_length=500)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='refunds', to='demo.demoorder')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
                    ],
                    options={
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='DemoArticle',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slug', models.SlugField(max_length=100)),
                        ('title', models.CharField(max_length=200)),
                        ('body', models.TextField()),
                        ('tags', models.CharField(blank=True, help_text='Space-separated keywords.', max_length=200)),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
                    ],
                    options={
                        'ordering': ['title'],
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'slug'), name='demo_article_slug_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='DemoTicket',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('subject', models.CharField(max_length=200)),
                        ('description', models.TextField(blank=True)),
                        ('customer_email', models.EmailField(blank=True, max_length=254)),
                        ('priority', models.CharField(choices=[('low', 'Low'), ('normal', 'Normal'), ('high', 'High'), ('urgent', 'Urgent')], default='normal', max_length=10)),
                        ('status', models.CharField(default='open', max_length=10)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='runs.run')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
                    ],
                    options={
                        'ordering': ['-created_at'],
                    },
                ),
            ],
        ),
        # Outside the block above, so that it sees the models that block adds to the state.
        migrations.RunPython(create_missing_tables, drop_tables),
    ]
