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
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
import time

from django.db.backends.sqlite3 import base

WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


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


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        self.writer_lock = WriterLock.for_database(self.settings_dict["NAME"])
        self.writer_lock_held = False
        self.writer_lock_timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        connection = super().get_new_connection(conn_params)
        # As the settings' init_command left it: what relaxed_durability returns to.
        self.durable_synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
        return connection

    @contextlib.contextmanager
    def relaxed_durability(self):
        """Commits made inside (outside a transaction) skip the fsync (`synchronous=NORMAL`): a
        power cut or OS crash may undo them, a killed process never does. The next durable commit,
        from any connection, makes them durable too: the WAL is written and synced in order, so
        no durable write can outlive an earlier relaxed one. For writes that are harmless to lose.
        """
        if self.in_atomic_block:  # the transaction's commit belongs to whoever opened it
            yield
            return
        self.ensure_connection()
        with self.wrap_database_errors:
            connection = self.connection
            connection.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            if connection is self.connection:  # not closed and reopened meanwhile
                connection.execute(f"PRAGMA synchronous={int(self.durable_synchronous)}")

    def create_cursor(self, name=None):
        lock, timeout = self.writer_lock, self.writer_lock_timeout
        return self.connection.cursor(factory=lambda connection: WriterCursor(connection, lock, timeout))

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
            return super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()

    def _release_writer_lock(self) -> None:
        if getattr(self, "writer_lock_held", False):
            self.writer_lock_held = False
            self.writer_lock.release()


class WriterCursor(base.SQLiteCursorWrapper):
    """Takes the writer lock around a write statement executed outside a transaction. A statement
    with RETURNING holds SQLite's lock until its rows are read, so they are read under the lock
    too, and served from memory. Converted placeholders are remembered per statement."""

    def __init__(self, connection, lock: WriterLock | None, timeout: float):
        super().__init__(connection)
        self.writer_lock = lock
        self.writer_lock_timeout = timeout
        self.returned: list | None = None

    def convert_query(self, query, *, param_names=None):
        if param_names is None:
            return _qmark(query)
        return super().convert_query(query, param_names=param_names)

    def execute(self, query, params=None):
        self.returned = None
        if self.writer_lock is None or self.connection.in_transaction or not _is_write(query):
            return super().execute(query, params)
        self.writer_lock.acquire(self.writer_lock_timeout)
        try:
            super().execute(query, params)
            if self.description is not None:
                self.returned = super().fetchall()
        finally:
            self.writer_lock.release()
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


def _is_write(query: str) -> bool:
    return query.lstrip()[:7].upper().startswith(WRITE_STATEMENTS)
