"""The one error hierarchy of the domain.

Every refusal or failure a caller can act on is a `CodedError`: a stable machine-readable `code`
(the API's `error.code`, a step's `error.code`), a readable `message` and optional `details`
(argument errors, say). Each layer derives its own (`RunError`, `ToolError`, `ApprovalError`,
`RunFailure`, ...) so that callers catch what they can handle, and the API maps any of them to the
same JSON envelope (agentops.api).
"""


class CodedError(Exception):
    """An error with a stable code, a readable message and optional details."""

    def __init__(self, code: str, message: str, *, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        data = {"code": self.code, "message": self.message}
        if self.details:
            data["details"] = self.details
        return data
