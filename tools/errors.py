"""The errors of the tools layer, all `agentops.errors.CodedError`s.

`ToolError` is a tool call that gave no result, with a message written for the model to read:
a Python tool raises it for an expected failure (`raise ToolError("No order 9999.")`), the gateway
raises its kinds, `ToolRefused` (the call was not made), `ToolFailed` (it was made and failed) and
`ToolOutcomeUnknown` (it was made and may or may not have taken effect), and the engine raises
it to a workflow when a call is refused, rejected by an approver or failed. `ToolInvalid` and
`ToolConflict` refuse a write to the registry.
"""

from __future__ import annotations

from agentops.errors import CodedError


class ToolError(CodedError):
    """A tool call that gave no result; `message` goes back to the model.

    `retryable` says whether the same call may succeed if made again: false unless a subclass
    knows better (`ToolFailed`).
    """

    retryable = False

    def __init__(self, message: str, *, code: str = "tool_error", details=None):
        super().__init__(code, message, details=details)

    def __reduce__(self):
        return _reduce_as_is(self)


class ToolRefused(ToolError):
    """A call the gateway will not make; `message` is written for the model to read and correct.

    `code`: unknown_tool, not_granted, disabled, permission_denied, invalid_arguments, invalid_json,
    tool_rule_violated (the arguments break one of the tool's argument rules).
    """

    def __init__(self, code: str, message: str, *, details=None):
        super().__init__(message, code=code, details=details)


class ToolFailed(ToolError):
    """The call was made and failed, after retries. `message` has every secret redacted;
    `retryable` says whether the last failure was transient (attempts or deadline ran out);
    `status` is the remote's status when there was one (HTTP status, gRPC code). `code` is
    `tool_failed`, or what the adapter named: `outbound_address_refused` when the tool's address
    is one tenants may not reach (agentops.outbound)."""

    CODE = "tool_failed"

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None, code: str = CODE):
        super().__init__(message, code=code)
        self.retryable = retryable
        self.status = status


class ToolOutcomeUnknown(ToolFailed):
    """A call to a tool that is not idempotent may have taken effect, and no answer says whether
    it did (a timeout after sending, a dropped connection, a 5xx): it is not made again, and the
    engine puts the step in doubt for a person."""

    CODE = "tool_outcome_unknown"

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message, retryable=False, status=status, code=self.CODE)


class ToolInvalid(CodedError):
    """The tool cannot be saved as given; `errors` (the `details`) is {field: [message, ...]}."""

    def __init__(self, errors: dict[str, list[str]]):
        message = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        super().__init__("invalid", message, details=errors)

    @property
    def errors(self) -> dict[str, list[str]]:
        return self.details

    def __reduce__(self):
        return _reduce_as_is(self)


class ToolConflict(CodedError):
    """A tool of that name already exists in that scope."""

    def __init__(self, message: str):
        super().__init__("conflict", message)


def _reduce_as_is(error: CodedError):
    # Task queues pickle errors, and Exception's default pickling calls the class with `args`
    # alone, which these signatures defeat: rebuild the error with its attributes as they are.
    return (_restore, (type(error), error.args, dict(error.__dict__)))


def _restore(cls: type[CodedError], args: tuple, state: dict) -> CodedError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error
