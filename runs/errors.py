"""Errors of runs and of the run engine.

`RunError` refuses an operation on a run (the API maps its code to a 4xx); `RunFailure` ends a
run with a readable `{code, message}`. What a workflow sees of a tool call that did not succeed is
`tools.errors.ToolError`. The control-flow signals derive from BaseException so that a workflow's
`except Exception` cannot swallow them.
"""

from agentops.errors import CodedError


class RunError(CodedError):
    """A refused run operation, with a stable code for the API and a readable message."""


class RunFailure(CodedError):
    """Ends the run as failed with its code and message."""


class NonDeterminismError(RunFailure):
    def __init__(self, seq: int, recorded: tuple[str, str], called: tuple[str, str]):
        super().__init__(
            "non_determinism",
            f"step #{seq}: the journal recorded {recorded[0]} {recorded[1]!r} but the workflow now calls "
            f"{called[0]} {called[1]!r}; the workflow code changed under a running run or is not deterministic",
        )


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


class ChildRunRefused(RunFailure):
    """`ctx.agent` may not start this child run (the step failed, no child exists); uncaught, the
    run fails with the code: agent_restricted, child_workflow_not_allowed, child_depth_exceeded."""


class Suspend(BaseException):
    """Unwinds the workflow after the run was durably marked waiting (or re-queued)."""


class LeaseLost(BaseException):
    """Another worker owns the run now (our lease expired): stop without writing anything."""


class CancelRequested(BaseException):
    """The run was asked to stop; the engine ends it as cancelled at a step boundary."""


class MemoryRefused(RunFailure):
    """`ctx.recall` or `ctx.remember` asked for a scope the agent version's memory policy does not
    allow, or one the run has no subject for (the user scope of a run without a user); uncaught,
    the run fails with the code `memory_scope_refused`."""
