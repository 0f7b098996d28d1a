"""The lease a worker holds on the run it executes.

Claiming is one conditional UPDATE (a run whose lease is live belongs to someone else); at step
boundaries the holder checks, at most once a second, that it still owns the run and that nobody
asked to cancel it, renewing the lease when a third of it is used. During a long blocking call
(model, tool, inline sleep) `keepalive()` has the process's heartbeat thread renew it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections, router
from django.utils import timezone

from agentops import db

from .errors import CancelRequested, LeaseLost
from .models import Run, RunStatus

CHECK_INTERVAL = 1.0

logger = logging.getLogger(__name__)


def lease_seconds() -> float:
    return float(getattr(settings, "RUN_LEASE_SECONDS", 30))


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_claim(*, run_id, owner: str) -> Run | None:
    """Take the run if it is queued, or running under an expired lease (its worker died); returns
    the claimed run, or None when it is not ours to execute.

    One statement (UPDATE … RETURNING) that claims and reads the row, built once per database:
    it starts every execution, so the ORM's per-call query compilation would be paid per run.
    """
    connection = connections[router.db_for_write(Run)]
    now = timezone.now()
    return _claim(connection, "one", owner, now, [
        Run._meta.pk.get_db_prep_value(run_id, connection), connection.ops.adapt_datetimefield_value(now)])


def run_claim_next(*, owner: str) -> Run | None:
    """Take the oldest queued run, if there is one. Concurrent claimers get different runs
    (PostgreSQL skips rows another claimer holds; SQLite has one writer at a time)."""
    connection = connections[router.db_for_write(Run)]
    return _claim(connection, "next", owner, timezone.now(), [])


def _claim_condition(connection, which: str) -> str:
    """The WHERE of a claim: "one" names the run (parameters: its id, now), "next" picks the
    oldest queued run (no parameters)."""
    q = connection.ops.quote_name
    if which == "one":
        return (f"{q('id')} = %s AND {q('status')} IN ('{RunStatus.QUEUED}', '{RunStatus.RUNNING}') "
                f"AND ({q('lease_expires_at')} IS NULL OR {q('lease_expires_at')} < %s)")
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (f"{q('id')} = (SELECT {q('id')} FROM {q(Run._meta.db_table)} WHERE {q('status')} = '{RunStatus.QUEUED}' "
            f"ORDER BY {q('created_at')} LIMIT 1{skip_locked}) AND {q('status')} = '{RunStatus.QUEUED}'")


def _claim(connection, which: str, owner: str, now, where_params: list) -> Run | None:
    key = (which, connection.vendor)
    if key not in _claim_sql:
        q = connection.ops.quote_name
        _claim_sql[key] = (
            f"UPDATE {q(Run._meta.db_table)} SET {q('status')} = '{RunStatus.RUNNING}', {q('lease_owner')} = %s, "
            f"{q('lease_expires_at')} = %s, {q('executions')} = {q('executions')} + 1, "
            f"{q('started_at')} = COALESCE({q('started_at')}, %s), {q('updated_at')} = %s "
            f"WHERE {_claim_condition(connection, which)} RETURNING {db.concrete_columns(Run, connection)}"
        )
    stamp = connection.ops.adapt_datetimefield_value
    params = [owner, stamp(now + timedelta(seconds=lease_seconds())), stamp(now), stamp(now), *where_params]
    # A claim lost to a power cut leaves the run queued, as if no worker had taken it; any
    # durable write of the execution makes the claim durable first (see relaxed_durability).
    with db.relaxed_durability(connection):
        row = db.execute(connection, _claim_sql[key], params, result="one")
    return db.instance_from_row(Run, row, connection) if row else None


_claim_sql: dict[tuple, str] = {}


def prepare_run_release(*, run_id, owner: str, add: dict | None = None, **changes) -> db.Statement:
    """The UPDATE that applies `changes` to the run (and increments its counters by `add`) and
    gives up the lease, if `owner` still holds it (compare and swap): run it, and 1 row changed
    means released; 0 means another worker took the run meanwhile, and nothing was written.

    Every execution ends with one of these (finished, parked or re-queued), so it goes through
    SQL built once, its values encoded before the caller's transaction (agentops.db).
    """
    where = {"id": run_id, "lease_owner": owner, "status": RunStatus.RUNNING}
    return db.update_statement(Run, where, set={**changes, "lease_owner": "", "lease_expires_at": None}, add=add)


class Lease:
    def __init__(self, run_id, owner: str):
        self.run_id = run_id
        self.owner = owner
        self.seconds = lease_seconds()
        self._renewed_at = time.monotonic()
        self._checked_at = time.monotonic()
        self.lost = False

    def check(self) -> None:
        """At a step boundary: raise LeaseLost or CancelRequested; renew when due. Cheap when recent."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_INTERVAL:
            return
        self._checked_at = now
        row = Run.objects.filter(pk=self.run_id).values_list("lease_owner", "cancel_requested").first()
        if row is None or row[0] != self.owner:
            raise LeaseLost()
        if row[1]:
            raise CancelRequested()
        if now - self._renewed_at > self.seconds / 3:
            self.renew()

    def renew(self) -> None:
        updated = Run.objects.filter(pk=self.run_id, lease_owner=self.owner).update(
            lease_expires_at=timezone.now() + timedelta(seconds=self.seconds)
        )
        if updated != 1:
            raise LeaseLost()
        self._renewed_at = time.monotonic()

    @contextlib.contextmanager
    def keepalive(self):
        """Keep the lease renewed while the body blocks (model or tool call)."""
        self.lost = False
        _heartbeat.add(self)
        try:
            yield
        finally:
            _heartbeat.remove(self)
        if self.lost:
            raise LeaseLost()


class _Heartbeat:
    """One daemon thread per process renews the leases of the calls in progress, so a call costs
    no thread of its own. Started lazily, and again after a fork (worker processes are forked)."""

    def __init__(self):
        self._leases: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases[id(lease)] = lease
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True).start()
        self._wake.set()  # a shorter lease may need an earlier beat

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._leases.pop(id(lease), None)

    def _beat(self) -> None:
        while True:
            with self._lock:
                leases = list(self._leases.values())
            interval = min([CHECK_INTERVAL, *(lease.seconds / 6 for lease in leases)])
            self._wake.wait(interval)
            self._wake.clear()
            for lease in leases:
                if time.monotonic() - lease._renewed_at > lease.seconds / 3 and id(lease) in self._leases:
                    self._renew(lease)

    @staticmethod
    def _renew(lease: Lease) -> None:
        try:
            lease.renew()
        except LeaseLost:
            lease.lost = True
        except Exception:  # the database is unreachable: try again at the next beat
            logger.warning("could not renew the lease on run %s", lease.run_id, exc_info=True)
            close_old_connections()


_heartbeat = _Heartbeat()
