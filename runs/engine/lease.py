"""The lease a worker holds on the run it executes.

Claiming is one conditional UPDATE (a run whose lease is live belongs to someone else, see
runs.store); at step boundaries the holder checks, at most once a second, that it still owns the
run and that nobody asked to cancel it, renewing the lease when a third of it is used. During a step
(model, tool, code, inline sleep) `keepalive()` has the process's heartbeat thread renew it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connections

from .. import store
from ..errors import CancelRequested, LeaseLost
from ..models import Run

CHECK_INTERVAL = 1.0

logger = logging.getLogger(__name__)


def _pid_namespace() -> str:
    """The pid namespace's inode: two containers on one host may share a host name, not this."""
    try:
        return os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return ""


def _process_stat(pid: int) -> tuple[str, str]:
    """(state, start) of a process from /proc (Linux): its state letter, and when it started in
    clock ticks since boot (a pid the kernel gave to a newer process has another start); ("", "")
    where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return "", ""


# Where workers can see each other's processes: the host name (cut so that an owner fits the
# column) and the pid namespace, unless RUN_WORKER_MACHINE names it.
MACHINE = settings.RUN_WORKER_MACHINE[:50] or f"{socket.gethostname()[:40]}/{_pid_namespace()}"


def new_worker_id() -> str:
    """A lease owner: machine, pid, the process's start and a nonce of this execution."""
    return f"{MACHINE}:{os.getpid()}:{_process_stat(os.getpid())[1]}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """True only when the process named by the lease owner is provably gone: it ran on this
    machine and its pid is free, or is a zombie (killed, not yet reaped: after a crash of a whole
    cluster nobody may reap it soon), or now belongs to a process started later. A lease held on
    another machine, or in an older format, is never judged here (its lease expires instead)."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != MACHINE or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a live process of another user
        pass
    state, now_started = _process_stat(pid)
    return state in ("Z", "X") or (bool(started and now_started) and now_started != started)


def run_claim(*, run_id, owner: str) -> Run | None:
    """Take the run if it is queued or its lease expired (see store.run_claim)."""
    return store.run_claim(run_id=run_id, owner=owner, lease_seconds=settings.RUN_LEASE_SECONDS)


def run_claim_next(*, owner: str) -> Run | None:
    """Take the oldest queued run, if there is one (see store.run_claim_next)."""
    return store.run_claim_next(owner=owner, lease_seconds=settings.RUN_LEASE_SECONDS)


class Lease:
    def __init__(self, run_id, owner: str):
        self.run_id = run_id
        self.owner = owner
        self.seconds = settings.RUN_LEASE_SECONDS
        self.renewed_at = time.monotonic()
        self._checked_at = time.monotonic()
        self.lost = False

    def check(self) -> None:
        """At a step boundary: raise LeaseLost or CancelRequested; renew when due. Cheap when recent."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_INTERVAL:
            return
        self._checked_at = now
        row = store.lease_state(self.run_id)
        if row is None or row[0] != self.owner:
            raise LeaseLost()
        if row[1]:
            raise CancelRequested()
        if now - self.renewed_at > self.seconds / 3:
            self.renew()

    def renew(self) -> None:
        if not store.lease_renew(run_id=self.run_id, owner=self.owner, seconds=self.seconds):
            raise LeaseLost()
        self.renewed_at = time.monotonic()

    def keepalive(self) -> "Lease":
        """`with lease.keepalive():` keeps the lease renewed while the body blocks (a model,
        tool or code call), and raises LeaseLost after it if the lease was lost meanwhile.
        (The lease is its own context manager: entered once per step, a generator costs more.)"""
        return self

    def __enter__(self) -> None:
        self.lost = False
        _heartbeat.add(self)

    def __exit__(self, exc_type, exc, traceback) -> None:
        _heartbeat.remove(self)
        if self.lost and exc_type is None:
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
        if lease.seconds / 6 < CHECK_INTERVAL:
            self._wake.set()  # a lease this short needs its first beat sooner than an idle wait ends

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._leases.pop(id(lease), None)

    def _beat(self) -> None:
        connected = False
        while True:
            with self._lock:
                leases = list(self._leases.values())
            if not leases and connected:  # renewals are rare: hold no connection while idle
                connections.close_all()
                connected = False
            interval = min([CHECK_INTERVAL, *(lease.seconds / 6 for lease in leases)])
            self._wake.wait(interval)
            self._wake.clear()
            for lease in leases:
                if time.monotonic() - lease.renewed_at > lease.seconds / 3 and id(lease) in self._leases:
                    self._renew(lease)
                    connected = True

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
