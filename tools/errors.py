"""Errors of tools, on the project's one error hierarchy (agentops.errors)."""

from agentops.errors import CodedError


class ToolError(CodedError):
    """A tool call that was refused, rejected or failed. Python tool functions raise it for an
    expected failure; a workflow sees it for any call that did not succeed (the agent loop hands
    it to the model)."""

    def __init__(self, message: str, *, code: str = "tool_error", details=None):
        super().__init__(code, message, details=details)
