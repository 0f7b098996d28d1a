"""Log lines that say which run, tenant and step they are about.

The engine binds a run's id and tenant around its execution (`run_log_context`, in
runs/engine/executor.py) and each step's sequence number as the recorder allocates it
(`log_step`); `ContextFilter`, on the console handler (settings.LOGGING), copies them onto every
record as `run`, `tenant` and `step`. `LOG_FORMAT=json` writes each record as one line of JSON
(`JsonFormatter`); the default is a readable line with the context appended when there is one.
Context variables, not thread-locals: each thread and each asyncio task sees its own run.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging

_run: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("agentops_log_run", default=None)
_step: contextvars.ContextVar[int | None] = contextvars.ContextVar("agentops_log_step", default=None)


@contextlib.contextmanager
def run_log_context(*, run_id, tenant: str):
    """Every record logged inside is about this run of this tenant (its step set by log_step)."""
    run_token, step_token = _run.set((str(run_id), tenant)), _step.set(None)
    try:
        yield
    finally:
        _step.reset(step_token)
        _run.reset(run_token)


def log_step(seq: int) -> None:
    """The step the current run's records are about from now on."""
    _step.set(seq)


class ContextFilter(logging.Filter):
    """Puts `run`, `tenant` and `step` on every record (None outside a run); lets all through."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _run.get()
        record.run, record.tenant = bound if bound else (None, None)
        record.step = _step.get() if bound else None
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [run=… tenant=… step=…]`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if getattr(record, "run", None) is None:
            return line
        step = f" step={record.step}" if record.step is not None else ""
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} [run={record.run} tenant={record.tenant}{step}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes in `exc_info`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run": getattr(record, "run", None),
            "tenant": getattr(record, "tenant", None),
            "step": getattr(record, "step", None),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
