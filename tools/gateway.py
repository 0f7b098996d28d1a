"""The tool gateway: the one way the run engine touches tools.

For each call the engine asks, in order (one `ToolSession(run)` serves the calls of one execution):

1. `ToolSession.prepare` — resolve the name in the run's tenant (its own tool before a global one),
   check the agent version grants it, that it is enabled, and that the run's end user may use it
   (role permission `use_tools`, or the object permission `tools.use_tool` on the tool); parse and
   validate the arguments against the tool's JSON Schema; check the tool's argument rules against
   the run's end user (their membership's attributes) and metadata; apply the approval policy. Everything
   the model did wrong or may not do is a `ToolRefused` the model can read, never a crash. Only
   database reads.
2. (the engine opens an approval request when `PreparedCall.approval` says so)
3. `tool_execute` — one call through the tool's adapter, with the per-attempt timeout, the tool's
   retry policy and the call's idempotency key; secrets resolved at call time with the tool's
   owner's powers (a tenant tool: its tenant's secrets; a global tool: the platform's) and
   redacted from whatever comes back. A failure after retries is a `ToolFailed`.

A call is never sent twice unless that is safe. An idempotent tool's retryable failures are
retried with the same idempotency key. A tool that is not idempotent is retried only when the
failed attempt cannot have taken effect (its `AdapterError.delivery` is `not_sent` or `sent`: it
never reached the tool, or the tool answered that it did nothing, like a 429); after a failure
that may have taken effect (`maybe_sent`: a timeout after sending, a dropped connection, a 5xx)
it is not repeated, and the call ends `ToolOutcomeUnknown`, which the engine turns into a step in
doubt for a person, as after a crash during the call.

The engine journals the step and writes the `tool.called` audit event; refusals are recorded with
`tool_refusal_audit`. Call `tool_execute` outside any open transaction: it does network I/O.

Tool names: models are offered `Tool.wire_name` ("crm__lookup_customer"), because model APIs do
not allow dots in function names. `ToolSession.prepare` accepts the wire name or the registry name.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings

from agentops import config_cache
from agentops.audit.services import Actor, audit_record
from agentops.llm.base import ToolSpec
from agentops.retry import RetryPolicy, call_with_retries
from agentops.secrets.resolver import SecretResolver
from agentops.tenancy.selectors import member_attributes_get
from tools.adapters import Adapter, AdapterError, Delivery, Invocation, get_adapter
from tools.adapters.python import PythonAdapter
from tools.errors import ToolFailed, ToolOutcomeUnknown, ToolRefused
from tools.models import Tool, ToolKind, name_from_wire, wire_name
from tools.policy import ApprovalNeed, approval_need, rule_violation
from tools.registry import ToolContext
from tools.schemas import instance_errors
from tools.selectors import tool_get, tool_map, user_may_use_tool

logger = logging.getLogger(__name__)

# A run's metadata may carry tool results recorded in advance, so that it runs offline (an eval
# case's `tool_results`, put there by the eval runner; the runs API refuses the key):
# [{"tool": name, "arguments": {subset}, "output": ...}]. A call that matches one is checked as any
# call (grant, rights, schema, approval) and journaled as usual, but answered with the recorded
# output instead of reaching the tool.
RECORDED_RESULTS_KEY = "recorded_tool_results"

# ToolRefused, ToolFailed and ToolOutcomeUnknown are what this module raises; they live in tools.errors.
__all__ = [
    "RECORDED_RESULTS_KEY", "PreparedCall", "ToolFailed", "ToolOutcomeUnknown", "ToolRefused", "ToolSession", "tool_execute",
    "tool_refusal_audit", "tool_validate_arguments",
]


@dataclass(frozen=True)
class PreparedCall:
    """A call that passed every check. `approval` is set when a human must approve it first.

    `run` is the run the call was prepared for: Python tools read their tenant and end user from
    it. Keep it when rebuilding a call with approved arguments (`dataclasses.replace`).
    """

    tool: Tool
    arguments: dict
    approval: ApprovalNeed | None
    run: Any


class ToolSession:
    """The gateway's checks for the many calls of one run execution.

    The run's granted tools and its user's right to use each are read through the configuration
    cache (agentops.config_cache): a tool disabled or a permission revoked elsewhere takes effect
    within its few seconds, and at once when changed in this process.
    """

    def __init__(self, run):
        self.run = run
        self._granted = [name_from_wire(g) for g in run.agent_version.tools or []]

    def specs(self) -> list[ToolSpec]:
        """The tools to offer the model: those granted by the run's agent version that its tenant
        sees and that are enabled, in the order of the grant, under their wire names."""
        tools = self._granted_tools()
        return [
            ToolSpec(name=tool.wire_name, description=tool.description, parameters=tool.input_schema)
            for tool in (tools.get(name) for name in self._granted)
            if tool is not None and tool.enabled
        ]

    def prepare(self, name: str, arguments: dict | str) -> PreparedCall:
        """Check a call the model asked for; raises ToolRefused. Database reads only, no writes.

        Order: tool known in the run's tenant → granted by the run's agent version → enabled → the
        end user may use it → arguments are a JSON object → they match the schema → they keep the
        tool's argument rules → approval policy.
        """
        tool = self._resolve(name)
        self._authorize(tool)
        parsed = _parse_arguments(arguments)
        valid = tool_validate_arguments(tool=tool, arguments=parsed)
        self._check_rules(tool, valid)
        return PreparedCall(tool=tool, arguments=valid, approval=approval_need(tool, valid), run=self.run)

    def _granted_tools(self) -> dict[str, Tool]:
        tenant = self.run.tenant
        return config_cache.cached(("granted-tools", tenant.pk, tuple(self._granted)),
                                   lambda: tool_map(tenant=tenant, names=self._granted))

    def _resolve(self, name: str) -> Tool:
        canonical = name_from_wire(name)
        tool = self._granted_tools().get(canonical)
        if tool is None:  # not granted, or granted but gone: tell the model which
            if tool_get(tenant=self.run.tenant, name=canonical) is None or canonical in self._granted:
                offered = ", ".join(wire_name(g) for g in self._granted) or "none"
                raise ToolRefused("unknown_tool", f"unknown tool: {name} (tools you can use: {offered})")
            raise ToolRefused("not_granted", f"tool {canonical} is not granted to this agent")
        if not tool.enabled:
            raise ToolRefused("disabled", f"tool {canonical} is disabled")
        return tool

    def _authorize(self, tool: Tool) -> None:
        run = self.run
        user_id = run.on_behalf_of_id or run.created_by_id
        if user_id is None:
            raise ToolRefused("permission_denied",
                              f"permission denied: the run acts for no user, so it may not use {tool.name}")
        may_use = config_cache.cached(("may-use-tool", user_id, run.tenant_id, tool.pk),
                                      lambda: user_may_use_tool(user=run.end_user, tenant=run.tenant, tool=tool))
        if not may_use:
            raise ToolRefused("permission_denied",
                              f"permission denied: user {run.end_user.get_username()} may not use {tool.name}")

    def _check_rules(self, tool: Tool, arguments: dict) -> None:
        if not tool.argument_rules:
            return
        run = self.run
        names = (tool.input_schema or {}).get("properties") or {}
        user_id = run.on_behalf_of_id or run.created_by_id  # _authorize refused a run acting for no user
        attributes = config_cache.cached(("member-attributes", run.tenant_id, user_id),
                                         lambda: member_attributes_get(tenant_id=run.tenant_id, user_id=user_id))
        values = {
            "arguments": {**dict.fromkeys(names), **arguments},
            "user": {"username": _end_user(run).get_username(), "attributes": attributes},
            "run": {"metadata": run.metadata or {}, "agent": run.agent.slug},
        }
        violation = rule_violation(tool, values)
        if violation:
            raise ToolRefused("tool_rule_violated", violation)


def _parse_arguments(arguments) -> dict:
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}  # models send "" for a tool without arguments
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolRefused(
                "invalid_json", f"arguments are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
    if not isinstance(arguments, dict):
        raise ToolRefused("invalid_arguments", f"arguments must be a JSON object, not {_json_type(arguments)}")
    return arguments


def tool_validate_arguments(*, tool: Tool, arguments: dict) -> dict:
    """`arguments` checked against the tool's input schema; raises ToolRefused("invalid_arguments")
    with readable reasons. Used again when an approver edits the arguments."""
    if not isinstance(arguments, dict):
        raise ToolRefused("invalid_arguments", f"arguments must be a JSON object, not {_json_type(arguments)}")
    errors = instance_errors(tool.input_schema or {}, arguments)
    if errors:
        raise ToolRefused("invalid_arguments", f"invalid arguments for {tool.name}: " + "; ".join(errors))
    return dict(arguments)


def tool_execute(
    *,
    prepared: PreparedCall,
    idempotency_key: str,
    deadline: float | None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> Any:
    """Run a prepared (and, if needed, approved) call; returns the result, redacted and truncated.

    `deadline` is a `time.monotonic()` value (or None): no attempt starts or outlasts it.
    `on_retry(attempt, error, delay)` is called before each retry, with the error redacted.
    Retries retryable adapter errors, honouring the remote's retry-after, but a tool that is not
    idempotent only when the attempt cannot have taken effect (see the module docstring). Raises
    ToolFailed, or ToolOutcomeUnknown when a call that is not idempotent may have taken effect.
    Makes network calls: never call it inside an open transaction.
    """
    tool = prepared.tool
    found, recorded = _recorded_output(prepared)
    if found:
        return recorded
    secrets = SecretResolver.for_tool(tool)
    try:
        adapter = _adapter(prepared, secrets)
    except ValueError as exc:  # the stored configuration is invalid (or its function is not loaded)
        raise ToolFailed(secrets.redact(f"{tool.name} is misconfigured: {exc}"), retryable=False) from None
    try:
        result = call_with_retries(
            lambda attempt: adapter.call(Invocation(prepared.arguments, idempotency_key, _timeout(tool, deadline),
                                                    tenant_id=prepared.run.tenant_id)),
            RetryPolicy.from_dict(tool.retry_policy),
            is_retryable=lambda exc: isinstance(exc, AdapterError) and _may_repeat(tool, exc),
            retry_after=lambda exc: getattr(exc, "retry_after", None),
            on_retry=_redacting(on_retry, secrets),
            deadline=deadline,
        )
    except AdapterError as exc:
        raise _failure(tool, exc, secrets) from None
    except Exception as exc:
        # An adapter bug: the run gets a tool error it can report, the log gets the traceback. It
        # may have struck after sending, so its delivery is the default: maybe sent.
        secrets.redact(exc)
        logger.exception("tool %s raised an unexpected error", tool.name)
        bug = AdapterError(f"{tool.name} failed: {type(exc).__name__}: {exc}", retryable=False)
        raise _failure(tool, bug, secrets) from None
    result = secrets.redact(result)
    _check_output(tool, result)
    return _truncated(result)


def _recorded_output(prepared: PreparedCall) -> tuple[bool, Any]:
    """(True, output) when the run carries a recorded result for this call: the first entry of
    `metadata[RECORDED_RESULTS_KEY]` naming the tool whose `arguments` (if any) the call's hold."""
    for entry in (prepared.run.metadata or {}).get(RECORDED_RESULTS_KEY) or ():
        wanted = entry.get("arguments") or {}
        if (name_from_wire(entry.get("tool", "")) == prepared.tool.name
                and all(prepared.arguments.get(key) == value for key, value in wanted.items())):
            return True, entry.get("output")
    return False, None


def _may_repeat(tool: Tool, error: AdapterError) -> bool:
    """A retryable failure is repeated, unless the tool is not idempotent and the attempt may have
    taken effect: sending it again could apply it twice."""
    return error.retryable and (tool.idempotent or error.delivery != Delivery.MAYBE_SENT)


def _failure(tool: Tool, error: AdapterError, secrets: SecretResolver) -> ToolFailed:
    message = secrets.redact(error.message)
    if error.delivery == Delivery.MAYBE_SENT and not tool.idempotent:
        return ToolOutcomeUnknown(
            f"{tool.name} may or may not have taken effect ({message.rstrip('.')}); it is not idempotent, so it was "
            "not sent again. Retry it, mark it done or fail it.", status=error.status)
    return ToolFailed(message, retryable=error.retryable, status=error.status, code=error.code or ToolFailed.CODE)


def _adapter(prepared: PreparedCall, secrets: SecretResolver) -> Adapter:
    tool = prepared.tool
    if tool.kind != ToolKind.PYTHON:
        # `secrets` is the tool owner's (SecretResolver.for_tool), which also makes a tenant's tool
        # connect only where agentops.outbound allows (Adapter.guarded).
        return get_adapter(tool.kind, tool.config, secrets)
    run = prepared.run
    context = ToolContext(tenant=run.tenant, run=run, user=_end_user(run))
    return PythonAdapter(tool.config, secrets, context=context)


def _end_user(run):
    user_id = run.on_behalf_of_id or run.created_by_id
    return config_cache.cached(("user", user_id), lambda: run.end_user) if user_id else None


def _timeout(tool: Tool, deadline: float | None) -> float:
    if deadline is None:
        return tool.timeout_seconds
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AdapterError(f"{tool.name} was not called: the run's deadline has passed.", retryable=False,
                           delivery=Delivery.NOT_SENT)
    return min(tool.timeout_seconds, remaining)


def _redacting(on_retry, secrets: SecretResolver):
    if on_retry is None:
        return None
    return lambda attempt, error, delay: on_retry(attempt, secrets.redact(error), delay)


def _check_output(tool: Tool, result: Any) -> None:
    if not tool.output_schema:
        return
    errors = instance_errors(tool.output_schema, result, root="result")
    if errors:
        raise ToolFailed(f"{tool.name} returned a result that does not match its output schema: "
                         + "; ".join(errors), retryable=False)


def _truncated(result: Any) -> Any:
    """`result`, or a note with the beginning of its JSON when it is longer than the limit.

    The limit bounds what is journaled and put in the model's context: a large page or table
    would otherwise cost tokens on every later model call of the run.
    """
    limit = settings.TOOL_OUTPUT_LIMIT
    text = json.dumps(result, ensure_ascii=False, default=str)
    size = len(text.encode())
    if size <= limit:
        return result
    preview = text.encode()[:limit].decode("utf-8", "ignore")
    while True:
        note = {
            "truncated": True,
            "original_bytes": size,
            "limit_bytes": limit,
            "note": f"The result was {size} bytes; only its first {len(preview.encode())} bytes of JSON are shown.",
            "preview": preview,
        }
        overflow = len(json.dumps(note, ensure_ascii=False).encode()) - limit
        if overflow <= 0 or not preview:
            return note
        preview = preview.encode()[: max(0, len(preview.encode()) - overflow)].decode("utf-8", "ignore")


def tool_refusal_audit(*, run, name: str, refusal: ToolRefused) -> None:
    """Record a refused call as the audit event `tool.refused`, in the caller's transaction."""
    user = run.end_user
    audit_record(
        tenant=run.tenant, action="tool.refused", actor=Actor.for_run(run), target=run,
        data={"tool": name_from_wire(name), "code": refusal.code, "message": refusal.message,
              "user": user.get_username() if user is not None else None},
    )


def _json_type(value) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)
