"""tool_execute against real local servers: retries, idempotency keys, redaction, limits."""

import json
import time

import pytest
from django.test import override_settings

from demo.models import DemoTicket
from tests.support.tool_servers import Reply
from tools.gateway import ToolFailed, ToolSession, tool_execute

from .conftest import TOKEN

AUTH = {"Authorization": "Bearer {{ secret:TOOLS_TEST_TOKEN }}"}
FAST_RETRIES = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05}


@pytest.fixture
def call(operator, make_tool, make_run, http_server, secret_token):
    """call(reply..., **tool fields) → the result of one prepared call of an http tool."""

    def go(*replies, key="run-1:3", deadline=None, on_retry=None, **fields):
        fields.setdefault("config", {"method": "POST", "url": f"{http_server.url}/refunds", "headers": AUTH})
        fields.setdefault("retry_policy", FAST_RETRIES)
        make_tool("billing.refund", **fields)
        run = make_run(operator, tools=["billing.refund"])
        http_server.reply(*replies)
        prepared = ToolSession(run).prepare("billing.refund", {"order_id": "1042", "amount": 20})
        return tool_execute(prepared=prepared, idempotency_key=key, deadline=deadline, on_retry=on_retry)

    return go


def test_transient_failures_are_retried_with_the_same_idempotency_key(call, http_server):
    # Given a server that fails twice with retryable statuses, then succeeds
    retries = []

    # When the tool is executed
    result = call(Reply(503, {"error": "busy"}), Reply(429, {"error": "slow down"}), Reply(201, {"refund_id": "re_1"}),
                  on_retry=lambda attempt, error, delay: retries.append(attempt), idempotent=True)

    # Then it succeeded on the third attempt, each attempt carrying the same key
    assert result == {"refund_id": "re_1"}
    assert [r.headers["idempotency-key"] for r in http_server.requests] == ["run-1:3"] * 3
    assert retries == [1, 2]
    assert http_server.requests[0].json() == {"order_id": "1042", "amount": 20}


def test_a_permanent_failure_is_not_retried(call, http_server):
    with pytest.raises(ToolFailed) as failed:
        call(Reply(422, {"error": "amount too large"}))

    assert len(http_server.requests) == 1
    assert failed.value.retryable is False and "HTTP 422" in failed.value.message


def test_retries_run_out(call, http_server):
    with pytest.raises(ToolFailed) as failed:
        call(Reply(503), Reply(503), Reply(503), Reply(201, {}), idempotent=True)

    assert len(http_server.requests) == 3 and failed.value.retryable is True


def test_retry_after_is_honoured(call, http_server):
    started = time.monotonic()

    call(Reply(503, headers={"Retry-After": "1"}), Reply(200, {"ok": True}), idempotent=True)

    assert time.monotonic() - started >= 1.0


def test_secrets_are_redacted_from_results(call, http_server):
    # Given a server that echoes the Authorization header it received
    echo = Reply(200, lambda request: {"seen": request.headers["authorization"]})

    result = call(echo)

    # Then the server got the real token, and the result shows only its name
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert result == {"seen": "Bearer [secret:TOOLS_TEST_TOKEN]"}


def test_secrets_are_redacted_from_errors(call):
    leak = Reply(400, lambda request: f"bad token {request.headers['authorization']}")

    with pytest.raises(ToolFailed) as failed:
        call(leak)

    assert TOKEN not in failed.value.message and TOKEN not in str(failed.value)
    assert "[secret:TOOLS_TEST_TOKEN]" in failed.value.message


def test_a_result_over_the_limit_is_truncated_with_a_note(call):
    big = {"rows": ["x" * 100] * 100}  # about 10 KB of JSON

    with override_settings(TOOL_OUTPUT_LIMIT=2048):
        result = call(Reply(200, big))

    assert result["truncated"] is True and result["limit_bytes"] == 2048
    assert result["original_bytes"] > 10_000
    assert result["preview"].startswith('{"rows": ["xxx')
    assert len(json.dumps(result, ensure_ascii=False).encode()) <= 2048


def test_a_result_under_the_limit_is_returned_whole(call):
    assert call(Reply(200, {"rows": [1, 2, 3]})) == {"rows": [1, 2, 3]}


def test_a_result_that_breaks_the_output_schema_fails(call):
    schema = {"type": "object", "required": ["refund_id"], "properties": {"refund_id": {"type": "string"}}}

    with pytest.raises(ToolFailed, match="does not match its output schema: result: 'refund_id' is a required"):
        call(Reply(200, {"id": 1}), output_schema=schema)


def test_a_passed_deadline_calls_nothing(call, http_server):
    with pytest.raises(ToolFailed, match="deadline has passed"):
        call(Reply(200, {}), deadline=time.monotonic() - 1)

    assert http_server.requests == []


def test_an_unknown_secret_fails_without_a_call(operator, make_tool, make_run, http_server):
    make_tool("crm.ping", config={"url": f"{http_server.url}/x", "headers": AUTH})
    run = make_run(operator, tools=["crm.ping"])

    with pytest.raises(ToolFailed, match="TOOLS_TEST_TOKEN"):
        tool_execute(prepared=ToolSession(run).prepare("crm.ping", {}), idempotency_key="k", deadline=None)
    assert http_server.requests == []


@pytest.mark.django_db(databases=["default", "demo"])  # the demo's tools write there
def test_a_python_tool_works_for_the_runs_tenant_and_user(tenant, operator, make_run):
    # Given a run granted tickets.create
    run = make_run(operator, tools=["tickets.create"])
    prepared = ToolSession(run).prepare("tickets__create", {"subject": "Parcel lost", "priority": "high"})

    # When it is executed
    result = tool_execute(prepared=prepared, idempotency_key=f"{run.pk}:2", deadline=None)

    # Then the ticket belongs to the run's tenant, run and user
    ticket = DemoTicket.objects.get()
    assert result == {"ticket_id": ticket.ticket_id, "status": "open", "priority": "high", "subject": "Parcel lost"}
    assert (ticket.tenant, ticket.run, ticket.created_by) == (tenant, run, operator)


@pytest.mark.django_db(databases=["default", "demo"])
def test_a_python_tools_error_is_a_failure_the_model_can_read(operator, make_run):
    run = make_run(operator, tools=["crm.lookup_customer"])
    prepared = ToolSession(run).prepare("crm.lookup_customer", {"customer_id": "C-9999"})

    with pytest.raises(ToolFailed) as failed:
        tool_execute(prepared=prepared, idempotency_key="k", deadline=None)

    assert (failed.value.message, failed.value.retryable) == ("No customer with id C-9999.", False)
