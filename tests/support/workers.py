"""Real django-q2 worker processes against the test database, and ways to kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database this test uses, for processes started by the test."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    return f"postgres://{auth}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


class Worker:
    """`python manage.py qcluster` in its own process group, so a kill takes all its processes."""

    def __init__(self, **env):
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": test_database_url(),
                    # the test's demo database (the demo's tools read and write it), SQLite on every run
                    "DEMO_DATABASE_URL": f"sqlite:///{connections['demo'].settings_dict['NAME']}",
                    "WORKERS": "1", "RUN_LEASE_SECONDS": "2", "PYTHONUNBUFFERED": "1",
                    # the cluster's own lines ("ready for work", each task) tell a test, and its reader, where it got
                    "Q_LOG_LEVEL": "INFO", **env}
        self.process: subprocess.Popen | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"qcluster-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env, start_new_session=True,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole cluster at once, as a crash of its machine would."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@contextlib.contextmanager
def running_worker(**env):
    worker = Worker(**env).start()
    try:
        yield worker
    finally:
        worker.stop()


def finished_pid() -> int:
    """The pid of a process that has exited and been reaped: free, or soon someone else's."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def dead_worker_id(pid: int | None = None, started: str = "1") -> str:
    """A lease owner on this machine whose process is gone (`pid` alive with another start: reused)."""
    from runs.engine.lease import MACHINE

    return f"{MACHINE}:{pid or finished_pid()}:{started}:0123abcd"


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
