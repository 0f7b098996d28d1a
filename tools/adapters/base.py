"""The contract every tool adapter implements.

An adapter turns one tool call into one attempt against the outside world. It does not retry,
sleep or record anything: the gateway owns retries (`agentops.retry.call_with_retries`), journaling
and auditing. What the adapter owes the gateway is an honest classification of each failure,
through the single error type `AdapterError`: `retryable` (may the same call succeed if repeated?)
and `delivery` (may this attempt have taken effect?). The gateway repeats a tool that is not
idempotent only after a failure that cannot have taken effect (see tools.gateway).

`delivery`, per kind of failure (each adapter's module names its own cases):

- `not_sent` — the call never reached the tool: refused by agentops.outbound (final), a DNS
  failure, a refused connection, a connect timeout, a refused TLS handshake (retryable); an
  invalid configuration, a missing secret or argument, a passed deadline (final).
- `sent` — the tool received the call and answered that it did not carry it out: HTTP 408, 425
  and 429, gRPC RESOURCE_EXHAUSTED and ABORTED (retryable); any other 4xx, GraphQL errors, an MCP
  `isError` result, a gRPC status that answers the call such as INVALID_ARGUMENT (final).
  SQL tools are read-only, which the database enforces: a failed query changed nothing, so they
  are never `maybe_sent`.
- `maybe_sent` — it may have reached the tool and taken effect, and no answer says otherwise: a
  read or write timeout, a connection dropped after sending, gRPC DEADLINE_EXCEEDED or UNAVAILABLE
  once connected (retryable); HTTP 5xx, all of them (retryable): a 500 may follow a partial
  write, a 502 or 504 is a proxy that lost the tool's answer, and a 503 usually means nothing was
  done but may come from the application after work, so none proves the call was not applied; an
  answer that cannot be read, gRPC INTERNAL, UNKNOWN or DATA_LOSS (final); a Python tool's
  exception other than ToolError, since the function ran (a database error: retryable).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from agentops.outbound import OutboundRefused, url_host_port
from agentops.secrets.references import REFERENCE
from agentops.secrets.resolver import SecretError, SecretResolver


class Delivery(StrEnum):
    """What a failed attempt may have done at the remote (see the module docstring)."""

    NOT_SENT = "not_sent"  # the call never reached the tool
    SENT = "sent"  # the tool received it and its answer says it did not carry it out
    MAYBE_SENT = "maybe_sent"  # it may have reached the tool and taken effect: no answer says otherwise


class AdapterError(Exception):
    """A failed attempt. `retryable` says whether the same call may succeed if repeated;
    `delivery` whether this attempt may have taken effect (`Delivery`): an adapter that cannot
    tell leaves the default, `maybe_sent`, which never repeats a call that is not idempotent.

    `status` is the remote status when there is one (HTTP status, gRPC status code number);
    `retry_after` is a delay in seconds the remote asked for, which the gateway honours when
    it is longer than its own backoff. `code` names a failure callers tell apart (the step's
    error code), such as `outbound_address_refused`; None for an ordinary failure.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        delivery: Delivery = Delivery.MAYBE_SENT,
    ) -> None:
        # The message lives only in `args` so that `SecretResolver.redact(exc)`, which rewrites
        # `args`, redacts everything `str(exc)` can show.
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.code = code
        self.delivery = Delivery(delivery)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return (
            f"AdapterError({self.message!r}, retryable={self.retryable}, "
            f"status={self.status}, retry_after={self.retry_after}, delivery={self.delivery.value})"
        )


@dataclass(frozen=True)
class Invocation:
    """One attempt of one tool call.

    `idempotency_key` is "<run id>:<seq>": the same for every retry of the call and after crash
    recovery, so a remote that honours it executes the side effect at most once.
    `timeout` bounds this attempt, in seconds, from connecting to reading the answer.
    `tenant_id` is the tenant of the run the call is for (SQL tools bind it as `%(tenant_id)s`).
    """

    arguments: dict
    idempotency_key: str
    timeout: float
    tenant_id: int | None = None


class Adapter(ABC):
    """Base class of the tool adapters; subclasses set `kind` and implement `call`.

    `guarded`: connect only where `agentops.outbound` allows. It follows from whose secrets
    `secrets` holds, the one statement of the tool's owner: a tenant's tool is guarded; a global
    one, defined by a platform admin who chose its target, is not.
    """

    kind: ClassVar[str]

    def __init__(self, config: dict, secrets: SecretResolver) -> None:
        """Raises ValueError if `config` is invalid (see `validate_config`) or beyond the powers of
        the tool's owner, whose secrets `secrets` holds (see `validate_owner`)."""
        tenant_tool = secrets.tenant_id is not None
        self.validate_config(config)
        self.validate_owner(config, tenant_tool=tenant_tool)
        self.config = config
        self.secrets = secrets
        self.guarded = tenant_tool

    @classmethod
    def validate_config(cls, config: dict) -> None:
        """Check the stored configuration; raise ValueError with a message fit for an admin form.

        Runs without secrets and without the network: it checks shape, not reachability.
        """
        if not isinstance(config, dict):
            raise ValueError("The configuration must be a JSON object.")

    @classmethod
    def outbound_target(cls, config: dict) -> tuple[str, int] | None:
        """The host and port `config` connects to, as written (for the save-time check of a
        tenant's tool); None when it names none or hides it in a secret reference."""
        return None

    @classmethod
    def validate_owner(cls, config: dict, *, tenant_tool: bool) -> None:
        """Raise ValueError when a valid `config` asks for more than its owner may have: a tenant's
        tool (`tenant_tool`) never reaches what belongs to the platform. Runs after `validate_config`."""

    @abstractmethod
    def call(self, invocation: Invocation) -> Any:
        """Make one attempt; return a JSON-serialisable result or raise AdapterError."""

    def resolve_secrets(self, value: Any) -> Any:
        """`value` (a part of `self.config`) with its secret references substituted.

        Call it inside `call`, for configuration only. An undefined secret is a configuration
        fault: retrying cannot help.
        """
        try:
            return self.secrets.resolve(value)
        except SecretError as exc:
            raise AdapterError(str(exc), retryable=False, delivery=Delivery.NOT_SENT) from None

    def error(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        delivery: Delivery = Delivery.MAYBE_SENT,
    ) -> AdapterError:
        """An AdapterError whose message has every secret resolved so far redacted."""
        return AdapterError(self.secrets.redact(message), retryable=retryable, status=status,
                            retry_after=retry_after, code=code, delivery=delivery)

    def unsent(self, message: str, *, retryable: bool = False, code: str | None = None) -> AdapterError:
        """The AdapterError for an attempt stopped before anything reached the remote."""
        return self.error(message, retryable=retryable, code=code, delivery=Delivery.NOT_SENT)

    def refused(self, refusal: OutboundRefused) -> AdapterError:
        """The AdapterError for a connection `agentops.outbound` refused: final, never retried."""
        return self.unsent(refusal.message, code=refusal.code)


def require_str(config: dict, key: str, *, kind: str) -> str:
    """Return the non-empty string `config[key]` or raise ValueError naming it."""
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} tool: '{key}' is required and must be a non-empty string.")
    return value


def require_str_map(config: dict, key: str, *, kind: str) -> dict[str, str]:
    """Return the optional string-to-string mapping `config[key]` (empty if absent)."""
    value = config.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{kind} tool: '{key}' must be an object of string values.")
    return value


def url_target(url: str) -> tuple[str, int] | None:
    """`Adapter.outbound_target` of a configured URL: None when a secret reference is in it."""
    if not isinstance(url, str) or REFERENCE.search(url):
        return None
    return url_host_port(url)
