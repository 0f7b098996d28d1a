import json

import pytest

from agentops.llm.base import ProviderError, Usage
from agentops.llm.gateway import complete_with_retries
from agentops.llm.scripted_provider import ScriptedProvider
from agentops.retry import RetryPolicy

SCRIPT = [
    {
        "tool_calls": [
            {"name": "lookup_order", "arguments": {"order_id": "1042"}},
            {"name": "broken", "arguments": "{oops"},
        ]
    },
    {"content": "Order 1042 is paid.", "usage": {"input_tokens": 50, "output_tokens": 8, "cached_input_tokens": 32}},
]
USER = {"role": "user", "content": "Where is order 1042?"}
ASSISTANT = {"role": "assistant", "content": None, "tool_calls": []}


def complete(provider, messages):
    return provider.complete(model="gpt-4o-mini", messages=messages, tools=[])


def test_response_is_chosen_by_the_number_of_assistant_messages():
    tool_message = {"role": "tool", "tool_call_id": "call_0_0", "content": "{}"}

    first = complete(ScriptedProvider(SCRIPT), [USER])
    second = complete(ScriptedProvider(SCRIPT), [USER, ASSISTANT, tool_message])

    assert first.tool_calls[0].name == "lookup_order"
    assert (second.content, second.usage) == ("Order 1042 is paid.", Usage(50, 8, 32))


def test_tool_calls_get_deterministic_ids_and_arguments_as_text():
    response = complete(ScriptedProvider(SCRIPT), [USER])

    assert [(call.id, call.arguments) for call in response.tool_calls] == [
        ("call_0_0", json.dumps({"order_id": "1042"})),
        ("call_0_1", "{oops"),
    ]
    assert response.finish_reason == "tool_calls"


def test_past_the_end_of_the_script_it_answers_script_exhausted():
    response = complete(ScriptedProvider(SCRIPT), [USER, ASSISTANT, ASSISTANT])

    assert (response.content, response.tool_calls) == ("(script exhausted)", ())


def test_error_entry_raises_provider_error_every_time():
    provider = ScriptedProvider([{"error": {"message": "bad request", "retryable": False, "status": 400}}])

    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            complete(provider, [USER])
        assert (str(caught.value), caught.value.retryable, caught.value.status) == ("bad request", False, 400)


def test_error_with_times_fails_once_then_the_retry_succeeds():
    provider = ScriptedProvider([{"error": {"message": "overloaded", "retryable": True}, "times": 1, "content": "ok"}])
    sleeps = []

    response = complete_with_retries(
        provider, model="m", messages=[USER], tools=[], policy=RetryPolicy(max_attempts=2), sleep=sleeps.append
    )

    assert response.content == "ok"
    assert len(sleeps) == 1
