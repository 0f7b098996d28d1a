"""SQLite shared by several worker processes: writers wait their turn on a lock file.

SQLite lets one connection write at a time. Another writer's `BEGIN IMMEDIATE` fails with
SQLITE_BUSY, and SQLite's busy handler then sleeps 1, 2, 5, 10… ms before trying again, although
a write transaction here holds the lock for well under a millisecond. With two workers, each
spent much of its time asleep, and a second worker made the engine slower than one.

This backend (`ENGINE = "agentops.sqlite"`, chosen for every sqlite:// URL) is Django's SQLite
backend plus one rule: a write transaction, and a write statement outside a transaction, first
takes an exclusive lock on `<database file>.writer-lock` — a thread lock within the process and
`flock` across processes, tried every 0.1–0.25 ms. SQLite's own write lock is then free whenever
it is asked for, and the busy handler never sleeps. Readers are not involved (WAL). A writer
that waits longer than the connection's timeout gets "database is locked", as before.

A durable commit in SQLite's own way (`synchronous=FULL`) has SQLite fsync the write-ahead log
while the transaction still holds the lock: about half a write transaction's time here, all of it
waited out by every other writer. So every connection to a write-ahead log runs with
`synchronous=NORMAL`, whatever level it opened with, and a commit
that wrote something syncs the log itself once the lock is released (`_sync_wal`), returning
only then: what the committer does next (call a tool, answer a request) still follows a
durable commit, and a writer that committed meanwhile is often made durable by the same sync.
Other connections may read a commit in the half millisecond before it is durable; anything
they do about it that matters is itself written with a durable commit, which syncs the log and
with it every commit before.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
import time
from datetime import datetime, timezone

from django.db import OperationalError
from django.db.backends.sqlite3 import base, operations

from .vectors import load_vector_functions

WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")

# The sqlite3 driver binds an int, float or str as it is, but looks any other value up among its
# adapters first; for None, which has none, that lookup fails through an AttributeError raised,
# formatted and discarded, per NULL bound: more work than binding the rest of a journal row. With
# None as its own adapter it is bound as NULL, as before, at the cost of one dictionary lookup.
sqlite3.register_adapter(type(None), lambda value: value)


class WriterLock:
    """One per database file and process."""

    _by_path: dict[str, "WriterLock"] = {}
    _by_path_lock = threading.Lock()

    @classmethod
    def for_database(cls, name: str) -> "WriterLock | None":
        if not name or name == ":memory:" or "mode=memory" in str(name):
            return None
        path = os.path.abspath(str(name)) + ".writer-lock"
        with cls._by_path_lock:
            if path not in cls._by_path:
                cls._by_path[path] = cls(path)
            return cls._by_path[path]

    def __init__(self, path: str):
        self.path = path
        self._pid: int | None = None
        self._threads = threading.Lock()
        self._fd: int | None = None

    def acquire(self, timeout: float) -> None:
        self._after_fork()
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            self._flock(deadline)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _flock(self, deadline: float) -> None:
        delay = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.00025)

    def _after_fork(self) -> None:
        # A forked worker must not share its parent's open file (flock locks belong to it) nor
        # inherit the state of its thread lock.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._threads = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)


ALL_TENANTS = "*"
_STAMP = "%04d-%02d-%02d %02d:%02d:%02d"
_STAMP_MICROSECONDS = _STAMP + ".%06d"


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_datetimefield_value(self, value):
        # The usual value, timezone.now() stored on a UTC connection, without Django's general
        # path (two conversions, a settings lookup, and str(), which formats through a method
        # call and appends the offset): the same text, "YYYY-MM-DD HH:MM:SS[.ffffff]", for a
        # fraction of the work. Two per journal row.
        if type(value) is datetime and value.tzinfo is timezone.utc and self.connection.timezone is timezone.utc:
            if value.microsecond:
                return _STAMP_MICROSECONDS % (value.year, value.month, value.day, value.hour, value.minute,
                                              value.second, value.microsecond)
            return _STAMP % (value.year, value.month, value.day, value.hour, value.minute, value.second)
        return super().adapt_datetimefield_value(value)

    def execute_sql_flush(self, sql_list):
        # `flush` empties every table, the audit log's too, as TRUNCATE does on PostgreSQL.
        with self.connection.audit_purge_allowed(ALL_TENANTS):
            super().execute_sql_flush(sql_list)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relaxed = False  # inside relaxed_durability()
        self.wrote = False  # a statement that may have written ran in the open transaction
        self.wal_path: str | None = None  # the log this backend syncs (see _take_over_wal_sync)
        self.wal_fd: int | None = None  # open on it from the first sync until the connection closes
        self.audit_purges: set = set()  # tenants whose audit events may be deleted now (audit_purge_allowed)

    def get_new_connection(self, conn_params):
        self.writer_lock = WriterLock.for_database(self.settings_dict["NAME"])
        self.writer_lock_held = False
        self.writer_lock_timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        self.wrote = False
        connection = super().get_new_connection(conn_params)
        self.wal_path = _take_over_wal_sync(connection)
        purges = self.audit_purges  # the set, not self: the connection must not hold its wrapper
        connection.create_function("agentops_audit_purge_allowed", 1,
                                   lambda tenant_id: tenant_id in purges or ALL_TENANTS in purges)
        self.vector_functions = load_vector_functions(connection)
        return connection

    @contextlib.contextmanager
    def audit_purge_allowed(self, tenant_id):
        """The audit log's DELETE trigger (agentops.audit, migration 0005) lets deletions of this
        tenant's events through on this connection while the block runs (ALL_TENANTS: anyone's).
        For audit_purge and `flush` only."""
        self.audit_purges.add(tenant_id)
        try:
            yield
        finally:
            self.audit_purges.discard(tenant_id)

    @contextlib.contextmanager
    def relaxed_durability(self):
        """Commits made inside (outside a transaction) skip the fsync: a power cut or OS crash may
        undo them, a killed process never does. The next durable commit, from any connection,
        makes them durable too: the log is written and synced in order, so no durable write can
        outlive an earlier relaxed one. For writes that are harmless to lose.
        """
        if self.in_atomic_block or self.relaxed:  # a transaction's commit belongs to whoever opened it; nested
            yield
            return
        self.relaxed = True
        try:
            yield
        finally:
            self.relaxed = False

    def after_write(self) -> None:
        """A write committed and the writer lock released: make it durable, unless relaxed."""
        if self.wal_path is not None and not self.relaxed:
            if self.wal_fd is None:
                self.wal_fd = _open_wal(self.wal_path)
            _sync_wal(self.wal_fd, self.wal_path)

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=lambda connection: WriterCursor(connection, self))

    def _start_transaction_under_autocommit(self):
        if self.writer_lock is not None:
            with self.wrap_database_errors:
                self.writer_lock.acquire(self.writer_lock_timeout)
            self.writer_lock_held = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._release_writer_lock()
        if self.wrote:
            self.wrote = False
            self.after_write()

    def _rollback(self):
        self.wrote = False
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()
            if self.wal_fd is not None:
                os.close(self.wal_fd)
                self.wal_fd = None

    def _release_writer_lock(self) -> None:
        if getattr(self, "writer_lock_held", False):
            self.writer_lock_held = False
            self.writer_lock.release()


class WriterCursor(base.SQLiteCursorWrapper):
    """Takes the writer lock around a write statement executed outside a transaction, and makes
    it durable after (see the module docstring). A statement with RETURNING holds SQLite's lock
    until its rows are read, so they are read under the lock too, and served from memory.
    Converted placeholders are remembered per statement."""

    def __init__(self, connection, wrapper: DatabaseWrapper):
        super().__init__(connection)
        self.wrapper = wrapper
        self.returned: list | None = None

    def convert_query(self, query, *, param_names=None):
        if param_names is None:
            return _qmark(query)
        return super().convert_query(query, param_names=param_names)

    def execute(self, query, params=None):
        self.returned = None
        head, wrapper = query.lstrip()[:7].upper(), self.wrapper
        if head.startswith("SELECT"):
            return self._execute(query, params)
        if self.connection.in_transaction:
            wrapper.wrote = True  # anything but a SELECT may have written: the commit syncs
            return self._execute(query, params)
        if head.startswith("BEGIN") or wrapper.writer_lock is None:
            return self._execute(query, params)
        if not head.startswith(WRITE_STATEMENTS):  # schema changes, pragmas: rare, left to SQLite's locking
            self._execute(query, params)
            wrapper.after_write()
            return self
        wrapper.writer_lock.acquire(wrapper.writer_lock_timeout)
        try:
            self._execute(query, params)
            if self.description is not None:
                self.returned = super().fetchall()
        finally:
            wrapper.writer_lock.release()
        wrapper.after_write()
        return self

    def _execute(self, query, params):
        if type(params) in (list, tuple):  # Django's wrapper would first ask whether it is a mapping
            return base.Database.Cursor.execute(self, _qmark(query), params)
        return super().execute(query, params)

    def executemany(self, query, param_list):
        if self.connection.in_transaction:
            self.wrapper.wrote = True
            return super().executemany(query, param_list)
        super().executemany(query, param_list)
        self.wrapper.after_write()
        return self

    def fetchone(self):
        if self.returned is None:
            return super().fetchone()
        return self.returned.pop(0) if self.returned else None

    def fetchmany(self, size=None):
        size = size or self.arraysize
        if self.returned is None:
            return super().fetchmany(size)
        rows, self.returned = self.returned[:size], self.returned[size:]
        return rows

    def fetchall(self):
        if self.returned is None:
            return super().fetchall()
        rows, self.returned = self.returned, []
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        if self.returned is None:
            return super().__next__()
        if not self.returned:
            raise StopIteration
        return self.returned.pop(0)


@functools.lru_cache(maxsize=1024)
def _qmark(query: str) -> str:
    """Django's "%s" placeholders as SQLite's "?" (the same statements come back over and over)."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


def _take_over_wal_sync(connection) -> str | None:
    """Switch a connection to a write-ahead log to `synchronous=NORMAL`, the syncs of its commits
    then made by this backend (see the module docstring); returns the log's path, or None when
    there is no log (another journal mode, an in-memory database): SQLite's own level then holds."""
    journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    if str(journal_mode).lower() != "wal":
        return None
    database_file = connection.execute("PRAGMA database_list").fetchone()[2]  # as SQLite resolved it
    connection.execute("PRAGMA synchronous=NORMAL")
    return database_file + "-wal"


def _open_wal(path: str) -> int:
    """A descriptor for syncing the write-ahead log. While this connection is open SQLite keeps
    the log's file (it deletes it only when the last connection closes, and truncates it in
    place), so one descriptor serves every sync of the connection."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise OperationalError(f"the commit was written but could not be made durable: {exc}") from exc


def _sync_wal(fd: int, path: str) -> None:
    """fdatasync the write-ahead log: every commit written to it so far becomes durable. If it
    cannot be synced, the commit is not durable and the caller must not go on as if it were."""
    try:
        os.fdatasync(fd)
    except OSError as exc:
        raise OperationalError(f"the commit to {path} was written but could not be made durable: {exc}") from exc
