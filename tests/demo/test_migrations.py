"""The demo tables move from the tools app to the demo app (tools 0002, demo 0001) with their rows,
keys, constraints and content types, on SQLite and PostgreSQL alike."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from demo.models import DemoCustomer, DemoOrder, DemoRefund

BEFORE_THE_MOVE = [("tools", "0001_initial"), ("demo", None)]

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_the_move_keeps_the_rows_and_their_relations(before_the_move, tenant):
    # Given an order with a customer and a refund in the tools app's tables
    order = old_order(before_the_move, tenant)
    before_the_move.get_model("tools", "DemoRefund").objects.create(
        tenant_id=tenant.pk, order=order, idempotency_key="key-1", request_hash="0" * 64, amount=Decimal("12.50"))

    # When the tables move to the demo app
    migrate()

    # Then the demo app's models read them, and the tools app's tables are gone
    moved = DemoOrder.objects.select_related("customer").get(tenant=tenant, order_id="1042")
    assert (moved.pk, moved.customer.name, moved.amount) == (order.pk, "Ada Lovelace", Decimal("30.00"))
    assert DemoRefund.objects.get(idempotency_key="key-1").order == moved
    tables = connection.introspection.table_names()
    assert {"demo_democustomer", "demo_demoorder", "demo_demorefund", "demo_demoarticle", "demo_demoticket"} <= set(tables)
    assert not [table for table in tables if table.startswith("tools_demo")]


def test_the_moved_tables_keep_their_constraints_and_id_sequences(before_the_move, tenant):
    order = old_order(before_the_move, tenant)

    migrate()

    customer = DemoCustomer.objects.get(tenant=tenant)
    fields = {"tenant": tenant, "amount": Decimal("1"), "placed_at": order.placed_at}
    new = DemoOrder.objects.create(order_id="1043", customer=customer, **fields)
    assert new.pk > order.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        DemoOrder.objects.create(order_id="1042", customer=customer, **fields)  # demo_order_id_unique
    with pytest.raises(IntegrityError), transaction.atomic():
        DemoOrder.objects.create(order_id="1044", customer_id=customer.pk + 1000, **fields)  # the foreign key
    assert DemoOrder.objects.count() == 2


def test_content_types_and_permissions_follow_the_models(before_the_move, tenant):
    # Given a group allowed to view orders, as the tools app's model
    content_type = ContentType.objects.get(app_label="tools", model="demoorder")
    group = Group.objects.create(name="support leads")
    group.permissions.add(Permission.objects.get(content_type=content_type, codename="view_demoorder"))

    migrate()

    assert ContentType.objects.get_for_model(DemoOrder).pk == content_type.pk
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [("demo", "view_demoorder")]
