"""The provider interface every model adapter implements, and the values it exchanges.

Messages are OpenAI chat-completions dicts (`role` system/user/assistant/tool, `content`,
`tool_calls`, `tool_call_id`) whatever the provider, so the engine keeps one conversation format.
A provider raises only `ProviderError`, which says whether trying again can help.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass

# Receives the text a model generates, piece by piece, while the call is in flight (for live
# viewers). Best effort: the returned LLMResponse is the record, whatever was relayed.
DeltaSink = Callable[[str], None]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model; `parameters` is the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict

    def to_openai(self) -> dict:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for. `arguments` is the raw JSON text as the model produced
    it and may be invalid JSON: validating it is the tool gateway's job, not the provider's."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Usage:
    """Token counts of one call. `cached_input_tokens` is the part of `input_tokens` served
    from the provider's prompt cache (billed at a lower price), not an addition to it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0


@dataclass(frozen=True)
class LLMResponse:
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    model: str
    finish_reason: str

    def to_message(self) -> dict:
        """The assistant message in chat format, to append to the conversation.

        `tool_calls` is left out when empty: the OpenAI API rejects an empty list.
        """
        message: dict = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in self.tool_calls
            ]
        return message

    def to_dict(self) -> dict:
        """A JSON-safe dict; `from_dict(to_dict())` gives back an equal response."""
        return {
            "content": self.content,
            "tool_calls": [asdict(call) for call in self.tool_calls],
            "usage": asdict(self.usage),
            "model": self.model,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LLMResponse:
        return cls(
            content=data.get("content"),
            tool_calls=tuple(ToolCall(**call) for call in data.get("tool_calls") or ()),
            usage=Usage(**(data.get("usage") or {})),
            model=data.get("model", ""),
            finish_reason=data.get("finish_reason", ""),
        )


class ProviderError(Exception):
    """A failed model call. `retryable` says whether the same call may succeed later;
    `retry_after` is the delay in seconds the provider asked for, if it did.

    The message must never contain a secret: it ends up in the run journal and the trace.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def __reduce__(self):
        # Keyword-only arguments defeat Exception's default pickling, and task queues pickle errors.
        return (_rebuild_provider_error, (self.message, self.retryable, self.retry_after, self.status))


def _rebuild_provider_error(message, retryable, retry_after, status) -> ProviderError:
    return ProviderError(message, retryable=retryable, retry_after=retry_after, status=status)


class Provider(ABC):
    """A chat model behind one small interface. Implementations are safe to share between
    threads and do not retry on their own: `gateway.complete_with_retries` does, so that every
    attempt can be journaled."""

    name: str

    @abstractmethod
    def complete(
        self,
        *,
        model: str,
        messages: list[dict],
        tools: list[ToolSpec],
        temperature: float | None = None,
        timeout: float = 60.0,
        on_delta: DeltaSink | None = None,
    ) -> LLMResponse:
        """One model call. Raises `ProviderError` and nothing else on failure. A provider that
        can stream passes the response's text to `on_delta` as it is generated."""


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token) for providers that do not report usage."""
    return len(text) // 4
