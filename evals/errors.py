"""Errors of evaluations: a refused suite, case, assertion or eval run, with a stable code."""

from agentops.errors import CodedError


class EvalError(CodedError):
    """A refused evaluation operation (unknown suite, invalid assertion, bad import file, ...)."""
