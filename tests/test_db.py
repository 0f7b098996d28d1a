"""agentops.db: the engine's statements skip Django's cursor wrapper only while nobody watches."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from agentops import db
from agentops.tenancy.models import Tenant

pytestmark = pytest.mark.django_db

SELECT_SLUG = "SELECT slug FROM tenancy_tenant WHERE id = %s"


@pytest.fixture
def tenant_row():
    return Tenant.objects.create(slug="acme", name="Acme")


def test_statements_are_seen_by_execute_wrappers_and_the_query_log(tenant_row):
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        assert db.execute(connection, SELECT_SLUG, [tenant_row.pk], result="one") == ("acme",)
    with CaptureQueriesContext(connection) as captured:
        assert db.update(Tenant, {"id": tenant_row.pk}, set={"name": "Acme Inc"}) == 1

    assert seen == [SELECT_SLUG]
    assert [query["sql"].split(" SET ")[0] for query in captured.captured_queries] == ['UPDATE "tenancy_tenant"']


def test_unobserved_statements_return_rows_and_counts(tenant_row):
    assert not connection.execute_wrappers and not connection.queries_logged

    assert db.execute(connection, SELECT_SLUG, [tenant_row.pk], result="all") == [("acme",)]
    assert db.execute(connection, SELECT_SLUG, [-1], result="one") is None
    assert db.update(Tenant, {"id": tenant_row.pk}, set={"name": "Acme Inc"}) == 1
    assert Tenant.objects.get(pk=tenant_row.pk).name == "Acme Inc"


def test_driver_errors_are_django_errors_and_a_broken_transaction_is_refused(tenant_row):
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
            db.update(Tenant, {"id": tenant_row.pk}, set={"slug": None})
        with pytest.raises(TransactionManagementError):
            db.execute(connection, SELECT_SLUG, [tenant_row.pk], result="one")
        transaction.set_rollback(True)


def test_many_rows_go_in_batches_and_return_what_is_asked_for(monkeypatch, tenant_row):
    monkeypatch.setattr(db, "MAX_ROWS_PER_INSERT", 2)
    head = "INSERT INTO tenancy_tenant (slug, name, created_at, daily_cost_limit, allow_self_approval)"
    stamp = connection.ops.adapt_datetimefield_value(tenant_row.created_at)
    rows = [(f"t{i}", f"T{i}", stamp, None, False) for i in range(5)]

    with CaptureQueriesContext(connection) as captured:
        returned = db.insert_many(connection, head, rows, returning="slug")

    assert len(captured.captured_queries) == 3
    assert sorted(slug for (slug,) in returned) == ["t0", "t1", "t2", "t3", "t4"]
    assert Tenant.objects.filter(slug__startswith="t").count() == 5
