"""The demo tables moved from the tools app to the demo app (tools 0002, demo 0001) with their
content types, then out of the platform's database into the demo database (demo 0002), on SQLite
and PostgreSQL alike."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from demo.models import DemoCustomer, DemoOrder

from .conftest import DEMO_DATABASES

BEFORE_THE_MOVE = [("tools", "0001_initial"), ("demo", None)]

DEMO_TABLES = {"demo_democustomer", "demo_demoorder", "demo_demorefund", "demo_demoarticle", "demo_demoticket"}

pytestmark = pytest.mark.django_db(transaction=True, databases=DEMO_DATABASES)


def migrate(targets=None):
    """Migrate the test database to `targets`, by default every app's latest migration."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


@pytest.fixture
def before_the_move(tenant):
    """The test database as tools 0001 left it (demo tables in the tools app), and the models of
    that state; back to the latest migrations afterwards."""
    try:
        migrate(BEFORE_THE_MOVE)
        yield MigrationExecutor(connection).loader.project_state(("tools", "0001_initial")).apps
    finally:
        migrate()


def old_order(apps, tenant, *, order_id="1042"):
    customer = apps.get_model("tools", "DemoCustomer").objects.create(
        tenant_id=tenant.pk, customer_id="C-1001", name="Ada Lovelace", email="ada@example.com",
        since=dt.date(2021, 3, 14))
    return apps.get_model("tools", "DemoOrder").objects.create(
        tenant_id=tenant.pk, order_id=order_id, customer=customer, amount=Decimal("30.00"),
        placed_at=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc))


def test_makemigrations_finds_the_models_and_the_migrations_in_step():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())  # exits non-zero on a change


def test_the_demo_tables_leave_the_platform_database_for_the_demo_database(before_the_move, tenant):
    # Given an order in the tools app's tables of the platform's database (before demo 0001)
    old_order(before_the_move, tenant)

    # When every migration runs
    migrate()

    # Then the platform's database keeps no demo table (demo 0002 dropped them, rows included)
    platform_tables = connection.introspection.table_names()
    assert not [table for table in platform_tables if "demo" in table]
    # and the demo database has them all, for seed_demo to fill
    assert DEMO_TABLES <= set(connections["demo"].introspection.table_names())


def test_the_demo_tables_keep_their_own_constraints_but_none_to_the_platform(tenant):
    customer = DemoCustomer.objects.create(tenant=tenant, customer_id="C-1", name="Ada", email="ada@example.com",
                                           since=dt.date(2021, 3, 14))
    fields = {"tenant": tenant, "amount": Decimal("1"), "placed_at": dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)}
    DemoOrder.objects.create(order_id="1042", customer=customer, **fields)

    with pytest.raises(IntegrityError), transaction.atomic(using="demo"):
        DemoOrder.objects.create(order_id="1042", customer=customer, **fields)  # demo_order_id_unique
    with pytest.raises(IntegrityError), transaction.atomic(using="demo"):
        DemoOrder.objects.create(order_id="1044", customer_id=customer.pk + 1000, **fields)  # the foreign key
    # A tenant is named by id only: its row is in another database.
    assert DemoOrder.objects.create(order_id="1045", customer=customer, **{**fields, "tenant_id": tenant.pk + 1000})
    assert DemoOrder.objects.get(order_id="1042").tenant == tenant


def test_content_types_and_permissions_follow_the_models(before_the_move, tenant):
    # Given a group allowed to view orders, as the tools app's model
    content_type = ContentType.objects.get(app_label="tools", model="demoorder")
    group = Group.objects.create(name="support leads")
    group.permissions.add(Permission.objects.get(content_type=content_type, codename="view_demoorder"))

    migrate()

    assert ContentType.objects.get_for_model(DemoOrder).pk == content_type.pk
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [("demo", "view_demoorder")]
