"""A tool that is not idempotent is never sent twice: the gateway repeats it only after a failure
that cannot have taken effect. Real local servers count the payments they apply, by key."""

import pytest
from django.db import OperationalError

from tests.support.tool_servers import Payments, free_port
from tools.gateway import ToolFailed, ToolOutcomeUnknown, ToolSession, tool_execute
from tools.models import Tool
from tools.registry import REGISTRY, tool
from tools.services import tool_sync

from .conftest import ACTOR

KEY = "run-1:3"
RETRIES = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05}


@pytest.fixture
def pay(operator, make_tool, make_run, allow_outbound):
    """pay(payments or its port, idempotent=..., on_retry=...) → the result of one call of payments.charge."""

    def go(payments: Payments | int, *, idempotent: bool, on_retry=None):
        url = f"http://127.0.0.1:{payments if isinstance(payments, int) else payments.server.port}"
        allow_outbound(url)
        make_tool("payments.charge", config={"method": "POST", "url": f"{url}/charges"}, effect="write",
                  idempotent=idempotent, timeout_seconds=0.5, retry_policy=RETRIES)
        run = make_run(operator, tools=["payments.charge"])
        prepared = ToolSession(run).prepare("payments.charge", {"amount": 30})
        return tool_execute(prepared=prepared, idempotency_key=KEY, deadline=None, on_retry=on_retry)

    return go


def test_a_slow_answer_to_a_call_that_is_not_idempotent_is_not_sent_again(pay):
    # Given a server that applies the payment but answers after the tool's timeout
    with Payments("slow") as payments:
        # When the call is made
        with pytest.raises(ToolOutcomeUnknown) as unknown:
            pay(payments, idempotent=False)

    # Then it was sent once, applied once, and its outcome is unknown rather than failed
    assert len(payments.server.requests) == 1 and payments.applied == {KEY: 1}
    assert unknown.value.code == "tool_outcome_unknown" and unknown.value.retryable is False
    assert "may or may not have taken effect" in unknown.value.message and "timed out" in unknown.value.message


def test_a_refused_connection_is_retried_because_nothing_was_sent(pay):
    # Given nothing listening on the tool's port; a server takes the port before the second attempt
    port = free_port()
    servers = []

    # When a call that is not idempotent is made
    try:
        result = pay(port, idempotent=False, on_retry=lambda *retry: servers.append(Payments(port=port).__enter__()))
    finally:
        for server in servers:
            server.__exit__()
    payments, = servers

    # Then the refused attempt was repeated, and the payment applied once
    assert result["key"] == KEY and payments.applied == {KEY: 1}
    assert len(payments.server.requests) == 1


def test_an_idempotent_call_with_a_slow_answer_is_retried_with_the_same_key(pay):
    # Given a server that honours idempotency keys, whose first answer comes too late
    with Payments("slow", dedup=True) as payments:
        result = pay(payments, idempotent=True)

    # Then the retry carried the same key and the server applied the payment once
    assert [r.headers["idempotency-key"] for r in payments.server.requests] == [KEY, KEY]
    assert result["key"] == KEY and payments.applied == {KEY: 1}


@pytest.mark.parametrize("answer, applied", [("500", {KEY: 1}), ("503", {})])
def test_a_5xx_to_a_call_that_is_not_idempotent_leaves_it_in_doubt(pay, answer, applied):
    # A 5xx does not say whether the call was carried out (a 500 may follow the payment), so even
    # a 503 that applied nothing is not repeated: nothing in the answer proves it.
    with Payments(answer) as payments:
        with pytest.raises(ToolOutcomeUnknown) as unknown:
            pay(payments, idempotent=False)

    assert len(payments.server.requests) == 1 and payments.applied == applied
    assert unknown.value.status == int(answer)


def test_a_429_is_retried_because_the_server_says_it_did_nothing(pay):
    with Payments("429") as payments:
        result = pay(payments, idempotent=False)

    assert len(payments.server.requests) == 2 and payments.applied == {KEY: 1}
    assert result["key"] == KEY


def test_an_idempotent_call_still_fails_plainly_after_its_retries(pay):
    with Payments("500", "500", "500") as payments:
        with pytest.raises(ToolFailed) as failed:
            pay(payments, idempotent=True)

    assert not isinstance(failed.value, ToolOutcomeUnknown)
    assert len(payments.server.requests) == 3 and failed.value.retryable is True


@pytest.fixture
def flaky_python_tool():
    """test.notify, a Python tool that records each call in `calls`, then fails as `failure` says."""
    calls, failure = [], {}

    @tool(name="test.notify", description="Notify someone.", effect="write")
    def notify(text: str) -> dict:
        calls.append(text)  # an effect outside the database: a transaction cannot undo it
        if len(calls) == 1:
            raise failure["first"]
        return {"sent": text}

    tool_sync(actor=ACTOR)
    yield calls, failure
    del REGISTRY["test.notify"]


@pytest.mark.parametrize("idempotent, error, outcome, calls_made", [
    (False, RuntimeError("smtp hung up"), ToolOutcomeUnknown, 1),
    (False, OperationalError("database is locked"), ToolOutcomeUnknown, 1),
    (True, OperationalError("database is locked"), None, 2),
    (True, RuntimeError("smtp hung up"), ToolFailed, 1),
])
def test_a_python_tool_that_raised_may_have_acted(operator, make_run, flaky_python_tool, idempotent, error, outcome,
                                                   calls_made):
    # A Python tool that raised ran, perhaps in part: only an idempotent one is called again.
    calls, failure = flaky_python_tool
    failure["first"] = error
    Tool.objects.filter(name="test.notify").update(idempotent=idempotent, retry_policy=RETRIES)
    prepared = ToolSession(make_run(operator, tools=["test.notify"])).prepare("test.notify", {"text": "hi"})

    if outcome is None:
        assert tool_execute(prepared=prepared, idempotency_key=KEY, deadline=None) == {"sent": "hi"}
    else:
        with pytest.raises(ToolFailed) as failed:
            tool_execute(prepared=prepared, idempotency_key=KEY, deadline=None)
        assert type(failed.value) is outcome
    assert len(calls) == calls_made
