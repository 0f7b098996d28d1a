"""The model's text on its way from a worker's model call to the streams following the run.

Deltas are not the record: the journaled step is. So they are best effort: never written in a
transaction, never waited for, dropped rather than queued when a receiver lags, and a lost delta
loses nothing but a moment of live text. Two ways across processes:

- With Redis, the channel layer: a group per run (`deltas.<run>`), which each web process's
  follower (runs/follower.py) joins for the runs its open streams follow.
- Without Redis (the embedded default: web and worker are separate processes on one machine) a
  Unix datagram socket per web process, all in one directory: a worker sends each batch to every
  socket there. It costs no database write (SQLite has one writer, and the journal needs it),
  no broker, and nothing at all while nobody streams (the directory is empty); a dead receiver's
  socket is removed by the first sender that finds it refusing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import tempfile
import time
from pathlib import Path

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import connection

from . import live

logger = logging.getLogger(__name__)

RUN_DELTA = "run.delta"
MAX_DATAGRAM = 60_000  # a batch of ~0.1 s of text is far smaller; a larger one is dropped


def delta_group(run_id) -> str:
    return f"deltas.{run_id}"


class DeltaRelay:
    """The `on_delta` sink of one model step (`seq` of run `run_id`): collects the text and hands
    it on at most every RUN_DELTAS_FLUSH_SECONDS, and the rest at `flush()` when the call is over."""

    def __init__(self, run_id, seq: int):
        self.run_id, self.seq = str(run_id), seq
        self.pending: list[str] = []
        self.flushed_at = 0.0

    def __call__(self, text: str) -> None:
        self.pending.append(text)
        if time.monotonic() - self.flushed_at >= settings.RUN_DELTAS_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        message = {"type": RUN_DELTA, "run": self.run_id, "seq": self.seq, "delta": "".join(self.pending)}
        self.pending.clear()
        self.flushed_at = time.monotonic()
        try:
            delta_publish(message)
        except Exception:  # a relay must never fail the model call
            logger.warning("could not relay a delta of run %s", self.run_id, exc_info=True)


def delta_publish(message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None and not isinstance(layer, InMemoryChannelLayer):
        live.publish(delta_group(message["run"]), message)
    else:
        _sockets_send(json.dumps(message).encode())


# Without Redis: datagram sockets ----------------------------------------------------------------


def socket_dir() -> Path:
    """Where this deployment's web processes listen: named after the database, so that two
    deployments (or test runs) on one machine do not hear each other."""
    if settings.RUN_DELTAS_SOCKET_DIR:
        return Path(settings.RUN_DELTAS_SOCKET_DIR)
    where = connection.settings_dict
    name = f"{connection.vendor}:{where.get('HOST')}:{where.get('PORT')}:{where['NAME']}"
    return Path(tempfile.gettempdir()) / f"agentops-deltas-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


class _Sender:
    """One unbound datagram socket per process (made again after a fork)."""

    def __init__(self):
        self.sock: socket.socket | None = None
        self.pid = 0

    def get(self) -> socket.socket:
        if self.sock is None or self.pid != os.getpid():
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
            self.pid = os.getpid()
        return self.sock


_sender = _Sender()


def _sockets_send(data: bytes) -> None:
    if len(data) > MAX_DATAGRAM:
        return
    try:
        listeners = [entry.path for entry in os.scandir(socket_dir()) if entry.name.endswith(".sock")]
    except FileNotFoundError:
        return  # no web process has streamed yet
    for path in listeners:
        try:
            _sender.get().sendto(data, path)
        except (ConnectionRefusedError, FileNotFoundError):  # its process is gone
            Path(path).unlink(missing_ok=True)
        except OSError:  # BlockingIOError: the receiver lags; drop this batch for it
            pass


class DeltaListener:
    """A web process's socket in `socket_dir()`; `on_message(dict)` runs in the event loop."""

    def __init__(self, on_message):
        self.on_message = on_message
        self.sock: socket.socket | None = None
        self.path: Path | None = None

    def open(self, loop) -> None:
        directory = socket_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # only this user's processes may send
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)
        loop.add_reader(self.sock.fileno(), self._read)

    def close(self, loop) -> None:
        if self.sock is not None:
            loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.path.unlink(missing_ok=True)
            self.sock = None

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            try:
                self.on_message(json.loads(data))
            except ValueError:
                continue
