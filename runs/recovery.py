"""Recovery inside the workers: a crash costs seconds, not the minute of the sweeper's schedule.

Each worker process, as it starts and before it takes its first task (django-q2's `post_spawn`
signal, sent in the new process), takes back the runs whose worker is provably dead or whose
lease expired (services.runs_recover_stranded) and executes them itself, oldest first: a worker
restarted after a crash resumes what the crash stranded before any newer work, even when it
crashes again a few seconds later. Then a daemon thread of the process runs services.recover
every RUN_RECOVERY_INTERVAL_SECONDS, so a live worker takes over a dead one's runs (at once on
the same machine, when the lease runs out elsewhere) and fires due timers and overdue waits,
whichever broker carries the tasks. Every recovery is a compare-and-swap on the run's lease:
concurrent ones, in any number of processes, queue each run once.

A second thread runs the audit log's sequencer every AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS, which
links the events written pending into their tenants' chains (agentops.audit.sequencer): the
workers are the processes that are always there, and each tenant is sealed by one of them at a time.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connections

from agentops.audit.sequencer import audit_seal

from .engine import execute_run
from .engine.lease import new_worker_id
from .services import recover, runs_recover_stranded

logger = logging.getLogger(__name__)


def worker_started(**_signal) -> None:
    """django-q2's post_spawn receiver, in a new worker process before its task loop. Never
    raises: an error here would kill the worker, and its restart would meet it again."""
    try:
        resume_stranded()
    except Exception:
        logger.exception("recovery at worker start failed; the recovery thread will retry")
    _every(settings.RUN_RECOVERY_INTERVAL_SECONDS, recover, "run-recovery")
    _every(settings.AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS, audit_seal, "audit-sequencer")


def _every(interval: float, work, name: str) -> None:
    """Run `work` every `interval` seconds (none if 0) in a daemon thread of this process."""
    if interval > 0:
        threading.Thread(target=repeat_forever, args=(interval, work), name=name, daemon=True).start()


def resume_stranded() -> int:
    """Take back the stranded runs and execute them here, oldest first; their queued tasks find
    them taken and return. Returns how many this process took back."""
    stranded = runs_recover_stranded()
    owner = new_worker_id()
    for run_id in stranded:
        execute_run(run_id, owner=owner)
    if stranded:
        logger.info("resumed %d stranded run(s) at worker start", len(stranded))
    return len(stranded)


def repeat_forever(interval: float, work) -> None:
    while True:
        time.sleep(interval)
        try:
            work()
        except Exception:  # the database is unreachable, say: try again at the next tick
            logger.warning("%s failed", getattr(work, "__name__", work), exc_info=True)
            connections.close_all()  # this thread's connections only
