"""Audit events cannot be changed once written: not through the ORM, and not with SQL either (the
database's triggers refuse it, on SQLite and PostgreSQL)."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from agentops.audit.models import AppendOnlyError, AuditEvent


@pytest.fixture
def event(tenant, record):
    return record(tenant, 1, action="test.original")[0]


def test_saving_an_existing_event_raises(event):
    event.action = "test.forged"

    with pytest.raises(AppendOnlyError):
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).action == "test.original"


def test_deleting_an_event_raises(event):
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_queryset_update_raises(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.forged")

    assert AuditEvent.objects.get(pk=event.pk).action == "test.original"


def test_a_queryset_delete_raises(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.count() == 1


def test_a_bulk_update_raises(event):
    event.action = "test.forged"

    # bulk_update joins the caller's transaction without a savepoint: contain the failure in one.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["action"])

    assert AuditEvent.objects.get(pk=event.pk).action == "test.original"


def test_the_database_refuses_an_sql_update(event):
    with pytest.raises(DatabaseError, match=r"append-only \(UPDATE refused"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'test.forged' WHERE id = %s", [event.pk])

    assert AuditEvent.objects.get(pk=event.pk).action == "test.original"


def test_the_database_refuses_an_sql_delete(event):
    with pytest.raises(DatabaseError, match=r"append-only \(DELETE refused"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_database_refuses_a_delete_of_every_row(tenant, other_tenant, record):
    record(tenant, 2)
    record(other_tenant, 1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")

    assert AuditEvent.objects.count() == 3


def test_a_tenant_with_audit_events_cannot_be_deleted(tenant, event):
    with pytest.raises(ProtectedError), transaction.atomic():
        tenant.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()
