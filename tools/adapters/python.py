"""The "python" adapter: calls a function registered with `@tool`.

Configuration: {"callable": "package.module.function"}, written by `tool_sync`. Only functions in
the in-process registry can be called, never an arbitrary import path, so a stored configuration
cannot point a tool at code that was not declared a tool.

Each attempt runs in its own `transaction.atomic()`: a write tool either commits everything or
nothing, which is what makes a retry after a database error safe. The per-attempt timeout cannot
interrupt Python code; Python tools are expected to be quick (database reads and writes).

Delivery (tools.adapters.base): arguments the function's model rejects are `not_sent`; a
`ToolError` is the tool's answer, `sent`; any other exception means the function ran, perhaps in
part (its database writes are rolled back, but not what it did elsewhere): `maybe_sent`, so a
database error is retried only for an idempotent tool.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.db import OperationalError, transaction
from pydantic import ValidationError

from tools.adapters.base import Adapter, Delivery, Invocation, require_str
from tools.errors import ToolError
from tools.models import Effect
from tools.registry import ToolContext, python_tool_by_callable

logger = logging.getLogger(__name__)


class PythonAdapter(Adapter):
    kind = "python"

    def __init__(self, config: dict, secrets, *, context: ToolContext | None = None) -> None:
        super().__init__(config, secrets)
        self.context = context or ToolContext(tenant=None)

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        path = require_str(config, "callable", kind="python")
        if python_tool_by_callable(path) is None:
            raise ValueError(f"python tool: {path} is not a function registered with @tool in this process.")

    def call(self, invocation: Invocation) -> Any:
        entry = python_tool_by_callable(self.config["callable"])
        context = dataclasses.replace(self.context, idempotency_key=invocation.idempotency_key)
        try:
            if entry.effect == Effect.READ:  # no transaction: on SQLite one would take the write lock
                return entry.call(context, invocation.arguments)
            with transaction.atomic():  # a failing write tool leaves nothing half done
                return entry.call(context, invocation.arguments)
        except ToolError as exc:
            raise self.error(exc.message, retryable=exc.retryable, delivery=Delivery.SENT) from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            raise self.unsent(f"Invalid arguments: {problems}") from None
        except OperationalError as exc:
            # Locks and lost connections pass; the transaction was rolled back, so a retry is safe.
            raise self.error(f"{entry.name}: database error: {exc}", retryable=True) from None
        except Exception as exc:
            logger.exception("python tool %s failed", entry.name)
            raise self.error(f"{entry.name} failed: {type(exc).__name__}: {exc}", retryable=False) from None
