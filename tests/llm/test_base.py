import json
import pickle

from agentops.llm.base import LLMResponse, ProviderError, ToolCall, Usage


def a_response(**overrides):
    values = dict(
        content=None,
        tool_calls=(ToolCall(id="call_1", name="lookup_order", arguments='{"order_id": "1042"}'),),
        usage=Usage(input_tokens=120, output_tokens=15, cached_input_tokens=64),
        model="gpt-4o-mini-2024-07-18",
        finish_reason="tool_calls",
    )
    return LLMResponse(**{**values, **overrides})


def test_response_survives_a_json_round_trip():
    response = a_response()

    restored = LLMResponse.from_dict(json.loads(json.dumps(response.to_dict())))

    assert restored == response


def test_to_message_gives_the_assistant_message_with_function_tool_calls():
    message = a_response().to_message()

    function = {"name": "lookup_order", "arguments": '{"order_id": "1042"}'}
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": function}],
    }


def test_to_message_leaves_out_tool_calls_when_there_are_none():
    message = a_response(content="Done.", tool_calls=(), finish_reason="stop").to_message()

    assert message == {"role": "assistant", "content": "Done."}


def test_provider_error_keeps_its_fields_through_pickling():
    error = ProviderError("rate limited", retryable=True, retry_after=2.5, status=429)

    restored = pickle.loads(pickle.dumps(error))

    assert str(restored) == "rate limited"
    assert (restored.retryable, restored.retry_after, restored.status) == (True, 2.5, 429)
