"""The SQLite backend's writer lock: write transactions and lone write statements take it,
reads do not, and a writer that cannot get it in time fails like SQLite would. And its commits:
one that wrote returns after the write-ahead log is synced, which happens once the lock is free."""

import fcntl
import os
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import OperationalError, connection, transaction

from agentops import db
from agentops.tenancy.models import Tenant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the writer lock is SQLite's"),
]


def lock_is_free() -> bool:
    """Whether another holder (this test's own open file) could take the writer lock now."""
    fd = os.open(connection.writer_lock.path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_writer_lock_until_it_ends():
    connection.ensure_connection()
    assert lock_is_free()
    with transaction.atomic():
        Tenant.objects.create(slug="a", name="A")
        assert not lock_is_free()
    assert lock_is_free()

    with pytest.raises(RuntimeError), transaction.atomic():
        assert not lock_is_free()
        raise RuntimeError("rolled back")
    assert lock_is_free()


def test_a_write_outside_a_transaction_returns_its_rows_and_releases_the_lock():
    tenant = Tenant.objects.create(slug="b", name="B")  # INSERT … RETURNING in autocommit mode

    assert tenant.pk is not None and Tenant.objects.get(pk=tenant.pk).slug == "b"
    assert lock_is_free()


def test_a_writer_that_cannot_get_the_lock_in_time_fails_and_readers_are_not_held_up():
    connection.ensure_connection()
    Tenant.objects.create(slug="c", name="C")
    fd = os.open(connection.writer_lock.path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's write transaction
    connection.writer_lock_timeout = 0.2
    try:
        assert Tenant.objects.filter(slug="c").exists()
        with pytest.raises(OperationalError, match="database is locked"):
            Tenant.objects.create(slug="d", name="D")
        with pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
            pass
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        connection.writer_lock_timeout = 20
    Tenant.objects.create(slug="d", name="D")
    assert lock_is_free()


@pytest.fixture
def wal(wal_syncs):
    """The write-ahead log's path (`wal_syncs` records each sync of it)."""
    connection.ensure_connection()
    return connection.settings_dict["NAME"] + "-wal"


@pytest.fixture
def lock_free_at_sync(wal_syncs, monkeypatch):
    """Whether the writer lock was free at each sync."""
    seen, sync = [], os.fdatasync

    def checking(fd):
        seen.append(lock_is_free())
        sync(fd)

    monkeypatch.setattr(os, "fdatasync", checking)
    return seen


def test_a_commit_that_wrote_returns_after_syncing_the_log_with_the_writer_lock_already_free(wal, wal_syncs,
                                                                                             lock_free_at_sync):
    with transaction.atomic():
        Tenant.objects.create(slug="e", name="E")
        assert wal_syncs == []
    Tenant.objects.filter(slug="e").update(name="E2")  # a write statement outside a transaction

    assert wal_syncs == [wal, wal] and lock_free_at_sync == [True, True]


def test_reads_and_rolled_back_writes_sync_nothing(wal, wal_syncs):
    with transaction.atomic():
        list(Tenant.objects.all())
    with pytest.raises(RuntimeError), transaction.atomic():
        Tenant.objects.create(slug="f", name="F")
        raise RuntimeError("rolled back")
    Tenant.objects.filter(slug="f").exists()

    assert wal_syncs == []


def test_relaxed_durability_skips_the_sync_for_exactly_its_block(wal, wal_syncs):
    with db.relaxed_durability(connection):
        Tenant.objects.create(slug="g", name="G")
    assert wal_syncs == []

    with pytest.raises(RuntimeError), db.relaxed_durability(connection):
        raise RuntimeError("the block failed")
    Tenant.objects.create(slug="h", name="H")
    assert wal_syncs == [wal]

    with transaction.atomic(), db.relaxed_durability(connection):  # a transaction's commit is not ours to relax
        Tenant.objects.create(slug="i", name="I")
    assert wal_syncs == [wal, wal]


def test_a_commit_whose_log_cannot_be_synced_fails_readably(wal, monkeypatch):
    def failing(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)

    with pytest.raises(OperationalError, match="could not be made durable"):
        with transaction.atomic():
            Tenant.objects.create(slug="j", name="J")
    assert lock_is_free()


def test_the_log_is_synced_through_one_descriptor_kept_until_the_connection_closes(wal, wal_syncs):
    Tenant.objects.create(slug="k", name="K")
    descriptor = connection.wal_fd
    Tenant.objects.filter(slug="k").update(name="K2")

    assert wal_syncs == [wal, wal] and connection.wal_fd == descriptor
    assert os.path.samefile(f"/proc/self/fd/{descriptor}", wal)
    connection.close()
    assert connection.wal_fd is None and not os.path.exists(f"/proc/self/fd/{descriptor}")


@pytest.mark.parametrize("value", [
    datetime(2026, 12, 4, 1, 2, 3, 456789, tzinfo=dt_timezone.utc),
    datetime(2026, 12, 4, 1, 2, 3, tzinfo=dt_timezone.utc),  # no microseconds: none written
    datetime(2026, 12, 4, 2, 2, 3, 456789, tzinfo=dt_timezone(timedelta(hours=1))),  # another zone
    datetime(2026, 12, 4, 1, 2, 3, 456789),  # naive
])
def test_timestamps_are_stored_as_djangos_sqlite_backend_writes_them(value):
    from django.db.backends.sqlite3.operations import DatabaseOperations

    assert connection.ops.adapt_datetimefield_value(value) == DatabaseOperations(connection).adapt_datetimefield_value(value)


def test_none_is_bound_as_null():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s IS NULL, %s", [None, None])
        assert cursor.fetchone() == (1, None)
