"""The lease a worker holds on the run it executes.

Claiming is one conditional UPDATE (a run whose lease is live belongs to someone else); at step
boundaries the holder checks, at most once a second, that it still owns the run and that nobody
asked to cancel it, renewing the lease when a third of it is used. During a long blocking call
(model, tool, inline sleep) `keepalive()` renews it from a background thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import CancelRequested, LeaseLost
from .models import Run, RunStatus

CHECK_INTERVAL = 1.0


def lease_seconds() -> float:
    return float(getattr(settings, "RUN_LEASE_SECONDS", 30))


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_claim(*, run_id, owner: str) -> bool:
    """Take the run if it is queued, or running under an expired lease (its worker died)."""
    now = timezone.now()
    claimed = (
        Run.objects.filter(pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=RunStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
            executions=F("executions") + 1,
            started_at=Coalesce(F("started_at"), now),
            updated_at=now,
        )
    )
    return claimed == 1


class Lease:
    def __init__(self, run_id, owner: str):
        self.run_id = run_id
        self.owner = owner
        self.seconds = lease_seconds()
        self._renewed_at = time.monotonic()
        self._checked_at = time.monotonic()

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
        """Renew the lease from a thread while the body blocks (model or tool call)."""
        stop = threading.Event()
        lost = threading.Event()

        def beat():
            try:
                while not stop.wait(self.seconds / 3):
                    try:
                        self.renew()
                    except LeaseLost:
                        lost.set()
                        return
            finally:
                close_old_connections()
                connection.close()

        thread = threading.Thread(target=beat, name=f"lease-{self.run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        if lost.is_set():
            raise LeaseLost()
