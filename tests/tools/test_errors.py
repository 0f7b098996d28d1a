"""The tools layer's errors: one ToolError (a CodedError) with the gateway's refusals and failures
as kinds of it, each surviving the pickling a task queue does."""

import pickle

import pytest

from agentops.errors import CodedError
from tools.errors import ToolConflict, ToolError, ToolFailed, ToolInvalid, ToolRefused


def test_a_tool_authors_error_has_a_default_code():
    error = ToolError("No order 9999.")

    assert isinstance(error, CodedError)
    assert (error.code, error.message, error.details, error.retryable) == ("tool_error", "No order 9999.", None, False)
    assert str(error) == "No order 9999."
    assert error.as_dict() == {"code": "tool_error", "message": "No order 9999."}


def test_refusals_and_failures_are_tool_errors():
    refused = ToolRefused("not_granted", "tool crm.ping is not granted to this agent")
    failed = ToolFailed("HTTP 503 from crm", retryable=True, status=503)

    assert isinstance(refused, ToolError) and isinstance(failed, ToolError)
    assert (refused.code, refused.message, refused.retryable) == (
        "not_granted", "tool crm.ping is not granted to this agent", False)
    assert (failed.code, failed.message, failed.retryable, failed.status) == (
        "tool_failed", "HTTP 503 from crm", True, 503)


@pytest.mark.parametrize("error", [
    ToolError("No order 9999.", code="not_found", details={"order_id": "9999"}),
    ToolRefused("invalid_arguments", "invalid arguments for billing.refund: amount: -5 is less than 0"),
    ToolFailed("HTTP 503 from crm", retryable=True, status=503),
    ToolInvalid({"config": ["'url' is required."]}),
    ToolConflict("A tool named crm.ping already exists in acme."),
], ids=lambda error: type(error).__name__)
def test_errors_survive_pickling(error):
    restored = pickle.loads(pickle.dumps(error))

    assert type(restored) is type(error)
    assert restored.__dict__ == error.__dict__ and restored.args == error.args
    assert str(restored) == str(error)


def test_an_invalid_tools_errors_are_its_details():
    error = ToolInvalid({"config": ["'url' is required."], "name": ["Too long."]})

    assert error.code == "invalid" and error.errors == error.details == {"config": ["'url' is required."],
                                                                        "name": ["Too long."]}
    assert error.message == "config: 'url' is required.; name: Too long."
