"""The OpenAI provider through the official client against a real local server."""

import time
from email.utils import formatdate

import pytest

from agentops.llm.base import ProviderError, ToolCall, ToolSpec, Usage
from agentops.llm.openai_provider import OpenAIProvider

from .conftest import API_KEY

LOOKUP = ToolSpec(
    name="lookup_order",
    description="Look up an order by its id.",
    parameters={"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)


def failed_call(provider, messages, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.complete(model="gpt-4o-mini", messages=messages, tools=[], **kwargs)
    return caught.value


def test_plain_reply_gives_content_and_stop(openai_server, provider, user_says):
    openai_server.reply("Hello there.")

    response = provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[])

    assert (response.content, response.tool_calls, response.finish_reason) == ("Hello there.", (), "stop")
    assert response.model == "gpt-4o-mini"


def test_tool_calls_are_parsed_with_their_raw_arguments(openai_server, provider, user_says):
    openai_server.reply(
        tool_calls=[
            {"id": "call_a", "name": "lookup_order", "arguments": {"order_id": "1042"}},
            {"id": "call_b", "name": "lookup_order", "arguments": '{"order_id": '},
        ]
    )

    response = provider.complete(model="gpt-4o-mini", messages=user_says("Where is #1042?"), tools=[LOOKUP])

    assert response.tool_calls == (
        ToolCall(id="call_a", name="lookup_order", arguments='{"order_id": "1042"}'),
        ToolCall(id="call_b", name="lookup_order", arguments='{"order_id": '),
    )
    assert response.finish_reason == "tool_calls"


def test_tools_are_offered_as_functions_and_unset_temperature_is_not_sent(openai_server, provider, user_says):
    openai_server.reply("ok")

    provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[LOOKUP])

    body = openai_server.chat_requests[0].body
    function = {"name": LOOKUP.name, "description": LOOKUP.description, "parameters": LOOKUP.parameters}
    assert body["tools"] == [{"type": "function", "function": function}]
    assert "temperature" not in body


def test_api_key_is_sent_as_bearer_token(openai_server, provider, user_says):
    openai_server.reply("ok")

    provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[])

    assert openai_server.chat_requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_usage_includes_cached_input_tokens(openai_server, provider, user_says):
    openai_server.reply("ok", usage={"prompt_tokens": 1200, "completion_tokens": 40, "cached_tokens": 1024})

    response = provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[])

    assert response.usage == Usage(input_tokens=1200, output_tokens=40, cached_input_tokens=1024)


def test_rate_limit_is_retryable_after_the_seconds_in_retry_after(openai_server, provider, user_says):
    openai_server.error(429, headers={"Retry-After": "7"})

    error = failed_call(provider, user_says("Hi"))

    assert (error.retryable, error.retry_after, error.status) == (True, 7.0, 429)


def test_retry_after_ms_is_preferred_to_retry_after(openai_server, provider, user_says):
    openai_server.error(429, headers={"retry-after-ms": "1500", "Retry-After": "9"})

    error = failed_call(provider, user_says("Hi"))

    assert error.retry_after == 1.5


def test_retry_after_may_be_an_http_date(openai_server, provider, user_says):
    openai_server.error(503, headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})

    error = failed_call(provider, user_says("Hi"))

    assert error.retryable and 25 <= error.retry_after <= 30


def test_server_error_is_retryable(openai_server, provider, user_says):
    openai_server.error(500)

    error = failed_call(provider, user_says("Hi"))

    assert (error.retryable, error.status) == (True, 500)


def test_bad_request_is_not_retryable(openai_server, provider, user_says):
    openai_server.error(400, body={"error": {"message": "Invalid 'messages'.", "type": "invalid_request_error"}})

    error = failed_call(provider, user_says("Hi"))

    assert (error.retryable, error.status) == (False, 400)
    assert "Invalid 'messages'" in str(error)


def test_timeout_is_retryable(openai_server, provider, user_says):
    openai_server.reply("too late", delay=5)

    started = time.monotonic()
    error = failed_call(provider, user_says("Hi"), timeout=0.3)

    assert error.retryable and error.status is None
    assert time.monotonic() - started < 3


def test_provider_timeout_caps_the_timeout_of_a_call(openai_server, user_says):
    provider = OpenAIProvider(api_key=API_KEY, base_url=openai_server.base_url, timeout=0.3)
    openai_server.reply("too late", delay=5)

    started = time.monotonic()
    error = failed_call(provider, user_says("Hi"), timeout=60)

    assert error.retryable
    assert time.monotonic() - started < 3


def test_unreachable_server_is_retryable(user_says):
    provider = OpenAIProvider(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")

    error = failed_call(provider, user_says("Hi"), timeout=2)

    assert error.retryable


def test_error_message_never_contains_the_api_key(openai_server, provider, user_says):
    openai_server.error(401, body={"error": {"message": f"Incorrect API key provided: {API_KEY}.", "type": "auth"}})

    error = failed_call(provider, user_says("Hi"))

    assert API_KEY not in str(error) and API_KEY not in repr(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert not error.retryable


def test_text_reaches_on_delta_piece_by_piece_and_the_response_is_assembled(openai_server, provider, user_says):
    openai_server.reply("Your order ships today.", chunks=["Your ord", "er ships", " today."],
                        usage={"prompt_tokens": 12, "completion_tokens": 6})
    pieces = []

    response = provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[], on_delta=pieces.append)

    assert pieces == ["Your ord", "er ships", " today."]
    assert (response.content, response.finish_reason) == ("Your order ships today.", "stop")
    assert response.usage == Usage(input_tokens=12, output_tokens=6)
    body = openai_server.chat_requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_tool_call_arguments_streamed_in_pieces_are_joined_and_not_sent_as_deltas(openai_server, provider,
                                                                                 user_says):
    openai_server.reply(tool_calls=[{"id": "call_a", "name": "lookup_order", "arguments": {"order_id": "1042"}}])
    pieces = []

    response = provider.complete(model="gpt-4o-mini", messages=user_says("#1042?"), tools=[LOOKUP],
                                 on_delta=pieces.append)

    assert response.tool_calls == (ToolCall(id="call_a", name="lookup_order", arguments='{"order_id": "1042"}'),)
    assert response.content is None and pieces == []


def test_a_stream_slower_than_the_timeout_in_total_fails_retryable(openai_server, provider, user_says):
    openai_server.reply("one two three four five", chunk_delay=0.2)

    started = time.monotonic()
    error = failed_call(provider, user_says("Hi"), timeout=0.5)

    assert error.retryable and "timed out" in error.message
    assert time.monotonic() - started < 2
