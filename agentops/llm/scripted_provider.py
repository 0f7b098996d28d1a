"""A provider that plays back a fixed script, for tests and evals.

The response to return is chosen from the conversation, not from provider state: it is the
entry at index "number of assistant messages already in `messages`". A run replayed or resumed
in another process therefore gets the same answers as the first time.

Each entry is a dict, every key optional:

    {"content": "text" | None,
     "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "1042"}}],  # or a raw JSON string
     "usage": {"input_tokens": 10, "output_tokens": 5, "cached_input_tokens": 0},
     "model": "...", "finish_reason": "...",
     "error": {"message": "overloaded", "retryable": true, "retry_after": 0, "status": 503},
     "times": 1}

An entry with "error" raises `ProviderError`. With "times": N only the first N calls at that
position fail and the next one returns the entry's response. That count is the one piece of
state and it lives on the instance: retries of a call go through the same instance (see
`gateway.complete_with_retries`), so "fail once, then succeed" works within a retry loop; a new
instance starts counting again.

Past the end of the script the provider answers "(script exhausted)".
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from .base import LLMResponse, Provider, ProviderError, ToolCall, Usage

EXHAUSTED = "(script exhausted)"


class ScriptedProvider(Provider):
    name = "scripted"

    def __init__(self, responses: list[dict]):
        self.responses = list(responses)
        self._failures = Counter()  # position -> errors raised there so far
        self._lock = threading.Lock()

    def complete(self, *, model, messages, tools, temperature=None, timeout=60.0, on_delta=None) -> LLMResponse:
        index = sum(1 for message in messages if message.get("role") == "assistant")
        if index >= len(self.responses):
            return LLMResponse(EXHAUSTED, (), Usage(), model, "stop")
        entry = self.responses[index]
        if "error" in entry:
            self._maybe_fail(index, entry)
        return _response(index, entry, model)

    def _maybe_fail(self, index: int, entry: dict) -> None:
        times = entry.get("times")
        with self._lock:
            if times is not None and self._failures[index] >= times:
                return
            self._failures[index] += 1
        error = entry["error"]
        raise ProviderError(
            error.get("message", "scripted error"),
            retryable=bool(error.get("retryable", False)),
            retry_after=error.get("retry_after"),
            status=error.get("status"),
        )


def _response(index: int, entry: dict, model: str) -> LLMResponse:
    tool_calls = tuple(
        ToolCall(id=f"call_{index}_{i}", name=call["name"], arguments=_arguments_text(call.get("arguments", {})))
        for i, call in enumerate(entry.get("tool_calls") or ())
    )
    return LLMResponse(
        content=entry.get("content"),
        tool_calls=tool_calls,
        usage=Usage(**(entry.get("usage") or {})),
        model=entry.get("model", model),
        finish_reason=entry.get("finish_reason", "tool_calls" if tool_calls else "stop"),
    )


def _arguments_text(arguments: dict | str) -> str:
    # A string is passed through untouched so a script can feed the engine invalid JSON.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
