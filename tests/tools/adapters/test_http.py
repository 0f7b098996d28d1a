import pytest

from agentops.retry import RetryPolicy, call_with_retries
from tests.support.tool_servers import Reply, free_port
from tests.tools.adapters.conftest import TOKEN
from tools.adapters.base import AdapterError, Delivery, Invocation
from tools.adapters.http import HttpAdapter

KEY = "run-7:3"


def invoke(adapter, arguments=None, *, timeout=5.0):
    return adapter.call(Invocation(arguments or {}, KEY, timeout))


def with_retries(adapter, arguments=None, *, timeout=5.0):
    """The gateway's retry loop, without sleeping."""
    return call_with_retries(
        lambda attempt: invoke(adapter, arguments, timeout=timeout),
        RetryPolicy(max_attempts=3, base_delay=0.0),
        is_retryable=lambda exc: isinstance(exc, AdapterError) and exc.retryable,
        sleep=lambda delay: None,
    )


def test_get_renders_url_and_query_and_returns_json(http_server, secrets):
    # Given an order endpoint
    http_server.reply(Reply(200, {"id": "A/1", "status": "shipped"}))
    adapter = HttpAdapter(
        {"url": http_server.url + "/orders/{order_id}", "query": ["fields"]}, secrets
    )

    # When the tool is called
    result = invoke(adapter, {"order_id": "A/1", "fields": "status"})

    # Then the argument is quoted into the path, the query is sent, and the JSON comes back
    assert result == {"id": "A/1", "status": "shipped"}
    (request,) = http_server.requests
    assert (request.method, request.path) == ("GET", "/orders/A%2F1")
    assert request.query == {"fields": ["status"]}
    assert request.headers["idempotency-key"] == KEY


def test_post_sends_remaining_arguments_as_json_body(http_server, secrets):
    # Given a POST tool whose URL uses one argument
    http_server.reply(Reply(201, "created"))
    adapter = HttpAdapter({"method": "POST", "url": http_server.url + "/customers/{id}/notes"}, secrets)

    # When it is called with that argument and two more
    result = invoke(adapter, {"id": 42, "text": "Call back", "urgent": True})

    # Then the other two form the body, and a text reply is returned as text
    assert result == "created"
    assert http_server.requests[0].json() == {"text": "Call back", "urgent": True}


def test_timeout_is_retryable(http_server, secrets):
    # Given a server slower than the attempt's timeout
    http_server.reply(Reply(200, {"ok": True}, delay=2.0))
    adapter = HttpAdapter({"url": http_server.url + "/slow"}, secrets)

    # When the tool is called with a 0.2 s timeout
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, timeout=0.2)

    # Then the failure is retryable, but the request may have been carried out
    assert caught.value.retryable is True and caught.value.delivery == Delivery.MAYBE_SENT
    assert "timed out" in caught.value.message


def test_503_then_success_is_retried_with_the_same_idempotency_key(http_server, secrets):
    # Given a server that is briefly unavailable
    http_server.reply(Reply(503, "busy"), Reply(200, {"booked": True}))
    adapter = HttpAdapter({"method": "POST", "url": http_server.url + "/bookings"}, secrets)

    # When the gateway calls it with retries
    result = with_retries(adapter, {"room": "12"})

    # Then the second attempt succeeds and both carried the same key
    assert result == {"booked": True}
    assert [r.headers["idempotency-key"] for r in http_server.requests] == [KEY, KEY]


def test_429_passes_on_retry_after(http_server, secrets):
    # Given a rate-limited server asking for 7 seconds
    http_server.reply(Reply(429, "slow down", headers={"Retry-After": "7"}))
    adapter = HttpAdapter({"url": http_server.url + "/search"}, secrets)

    # When the tool is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then the error is retryable, carries the requested delay, and says nothing was done
    assert (caught.value.retryable, caught.value.status, caught.value.retry_after) == (True, 429, 7.0)
    assert caught.value.delivery == Delivery.SENT


def test_400_is_not_retried(http_server, secrets):
    # Given a server that rejects the request
    http_server.reply(Reply(400, {"error": "unknown field 'colour'"}), Reply(200, {"ok": True}))
    adapter = HttpAdapter({"method": "POST", "url": http_server.url + "/items"}, secrets)

    # When the gateway calls it with retries
    with pytest.raises(AdapterError) as caught:
        with_retries(adapter, {"colour": "red"})

    # Then it gave up after one request, with the server's error text
    assert len(http_server.requests) == 1
    assert caught.value.retryable is False and caught.value.status == 400 and caught.value.delivery == Delivery.SENT
    assert "unknown field 'colour'" in caught.value.message


def test_secret_header_reaches_the_server_but_not_the_result(http_server, secrets):
    # Given a server that echoes the request's headers back
    http_server.reply(Reply(200, lambda request: {"seen": request.headers["authorization"]}))
    adapter = HttpAdapter(
        {"url": http_server.url + "/me", "headers": {"Authorization": "Bearer {{ secret:CRM_TOKEN }}"}},
        secrets,
    )

    # When the tool is called
    result = invoke(adapter)

    # Then the server got the real token, and the result shows only its name
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert result == {"seen": "Bearer [secret:CRM_TOKEN]"}
    assert TOKEN not in repr(secrets.redact(result))


def test_secret_echoed_in_an_error_is_redacted(http_server, secrets):
    # Given a server that quotes the rejected credential in its error
    http_server.reply(Reply(401, lambda request: f"bad token {request.headers['authorization']}"))
    adapter = HttpAdapter(
        {"url": http_server.url + "/me", "headers": {"Authorization": "{{ secret:CRM_TOKEN }}"}}, secrets
    )

    # When the tool is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then the message names the secret instead of showing it
    assert TOKEN not in str(caught.value)
    assert "bad token [secret:CRM_TOKEN]" in str(caught.value)


def test_unknown_secret_fails_before_sending(http_server, secrets):
    # Given a tool referencing a secret that is not defined
    adapter = HttpAdapter(
        {"url": http_server.url + "/me", "headers": {"X-Api-Key": "{{ secret:MISSING_KEY }}"}}, secrets
    )

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then the error names the secret, is permanent, and nothing was sent
    assert "MISSING_KEY" in caught.value.message and caught.value.retryable is False
    assert http_server.requests == []


def test_argument_shaped_like_a_secret_reference_is_sent_literally(http_server, secrets):
    # Given a model that tries to read a secret through an argument
    http_server.reply(Reply(200, {"ok": True}), Reply(200, {"ok": True}))
    adapter = HttpAdapter(
        {"method": "POST", "url": http_server.url + "/notes/{title}", "query": ["q"]}, secrets
    )

    # When the reference is passed in the path, the query and the body
    reference = "{{ secret:CRM_TOKEN }}"
    invoke(adapter, {"title": reference, "q": reference, "text": reference})

    # Then the server receives the reference text, never the value
    (request,) = http_server.requests
    assert TOKEN not in request.path + str(request.query) + request.body.decode()
    assert request.json() == {"text": reference}


@pytest.mark.parametrize(
    "url",
    ["{host}/orders", "https://{host}/orders", "ftp://example.com/x", "https://api.{tenant}.com/x"],
)
def test_validate_config_refuses_urls_whose_origin_is_not_fixed(url):
    # Given/When a URL whose scheme or host is not literal
    # Then it is refused on save
    with pytest.raises(ValueError, match="url"):
        HttpAdapter.validate_config({"url": url})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_may_have_been_carried_out(http_server, secrets, status):
    http_server.reply(Reply(status, "unwell"))
    adapter = HttpAdapter({"method": "POST", "url": http_server.url + "/bookings"}, secrets)

    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"room": "12"})

    assert (caught.value.retryable, caught.value.delivery) == (True, Delivery.MAYBE_SENT)


def test_a_refused_connection_sent_nothing(secrets):
    adapter = HttpAdapter({"method": "POST", "url": f"http://127.0.0.1:{free_port()}/bookings"}, secrets)

    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"room": "12"})

    assert (caught.value.retryable, caught.value.delivery) == (True, Delivery.NOT_SENT)
    assert "cannot connect" in caught.value.message
