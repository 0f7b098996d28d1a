"""Errors of the run engine.

`RunFailure` ends a run with a readable `{code, message}`; `ToolError` is what a workflow sees when
a tool call is refused, rejected or fails (the agent loop hands it to the model). The control-flow
signals derive from BaseException so that a workflow's `except Exception` cannot swallow them.
"""


class CodedError(Exception):
    """An error with a stable machine-readable code and a readable message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class RunFailure(CodedError):
    """Ends the run as failed with its code and message."""


class NonDeterminismError(RunFailure):
    def __init__(self, seq: int, recorded: tuple[str, str], called: tuple[str, str]):
        super().__init__(
            "non_determinism",
            f"step #{seq}: the journal recorded {recorded[0]} {recorded[1]!r} but the workflow now calls "
            f"{called[0]} {called[1]!r}; the workflow code changed under a running run or is not deterministic",
        )


class ToolError(CodedError):
    """A tool call that was refused, rejected or failed; the workflow decides what to do."""


class StepFailed(Exception):
    """A `ctx.step` function raised; replay raises the recorded error again."""

    def __init__(self, name: str, error: dict):
        super().__init__(f"step {name!r} failed: {error.get('type', 'Error')}: {error.get('message', '')}")
        self.error = error


class ChildRunFailed(Exception):
    def __init__(self, run_id: str, error: dict | None, status: str):
        super().__init__(f"child run {run_id} {status}: {(error or {}).get('message', '')}")
        self.run_id = run_id
        self.error = error or {}
        self.status = status


class Suspend(BaseException):
    """Unwinds the workflow after the run was durably marked waiting (or re-queued)."""


class LeaseLost(BaseException):
    """Another worker owns the run now (our lease expired): stop without writing anything."""


class CancelRequested(BaseException):
    """The run was asked to stop; the engine ends it as cancelled at a step boundary."""
