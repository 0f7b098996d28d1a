"""OpenAI chat completions, and any server that speaks the same API (`base_url`).

The client never retries on its own (`max_retries=0`): `gateway.complete_with_retries` does, so
that each attempt is journaled. Every client error becomes a `ProviderError` whose message has
the API key removed.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime

import httpx
import openai

from agentops.outbound import OutboundRefused

from .base import LLMResponse, Provider, ProviderError, ToolCall, Usage

# Statuses the OpenAI SDK itself would retry: request timeout, lock conflict, rate limit, server errors.
RETRYABLE_STATUSES = frozenset({408, 409, 429})

# Local OpenAI-compatible servers (vLLM, Ollama, a test server) need no key, but the client
# refuses to start without one.
PLACEHOLDER_KEY = "no-key"

KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,})")


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 60,
                 http_client: httpx.Client | None = None):
        """`http_client`: the connection pool to use, e.g. agentops.outbound's guarded one for a
        server a tenant chose; the SDK's own by default."""
        self._api_key = api_key or ""
        self.base_url = base_url or None
        self.timeout = timeout
        self._client = openai.OpenAI(
            api_key=self._api_key or PLACEHOLDER_KEY, base_url=self.base_url, timeout=timeout, max_retries=0,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"OpenAIProvider(base_url={self.base_url!r})"  # never the key

    def complete(self, *, model, messages, tools, temperature=None, timeout=60.0, on_delta=None) -> LLMResponse:
        """One chat completion, streamed: the text goes to `on_delta` as it comes, and the same
        LLMResponse as a plain call is assembled from the chunks. Streaming costs nothing more
        (the same tokens, usage in the last chunk), so every call streams, listened to or not.
        The provider's own `timeout` caps the call's, for the whole stream, not only each read."""
        timeout = min(timeout, self.timeout)
        kwargs: dict = {"model": model, "messages": messages, "timeout": timeout, "stream": True,
                        "stream_options": {"include_usage": True}}
        if tools:  # the API rejects an empty tools list
            kwargs["tools"] = [tool.to_openai() for tool in tools]
        if temperature is not None:
            kwargs["temperature"] = temperature
        try:
            stream = self._client.chat.completions.create(**kwargs)
            with stream:
                return _assemble(stream, on_delta=on_delta, deadline=time.monotonic() + timeout)
        except openai.OpenAIError as exc:
            # `from None`: the client's own exception could carry what the server echoed back.
            raise self._provider_error(exc) from None
        except httpx.HTTPError as exc:  # the connection failed between two chunks
            raise ProviderError(f"The stream broke off: {type(exc).__name__}", retryable=True) from None
        except OutboundRefused as exc:  # a tenant's server at an address tenants may not reach
            raise ProviderError(exc.message, retryable=False) from None
        except (AttributeError, IndexError, TypeError) as exc:
            # A server that only claims to speak the API; the contract is "ProviderError only".
            raise ProviderError(f"Unreadable completion: {type(exc).__name__}", retryable=False) from None

    def embed(self, *, model: str, texts: list[str], timeout: float = 30.0) -> list[list[float]]:
        """One vector per text, in order, from `/v1/embeddings`."""
        try:
            reply = self._client.embeddings.create(model=model, input=texts, timeout=min(timeout, self.timeout))
        except openai.OpenAIError as exc:
            raise self._provider_error(exc) from None
        vectors = [row.embedding for row in sorted(reply.data, key=lambda row: row.index)]
        if len(vectors) != len(texts):
            raise ProviderError(f"{len(vectors)} embeddings for {len(texts)} texts.", retryable=False)
        return vectors

    def _provider_error(self, exc: openai.OpenAIError) -> ProviderError:
        message = self._redact(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")
        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            return ProviderError(message, retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retryable = status in RETRYABLE_STATUSES or status >= 500
            retry_after = parse_retry_after(exc.response.headers) if retryable else None
            return ProviderError(message, retryable=retryable, retry_after=retry_after, status=status)
        return ProviderError(message, retryable=False)

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return KEY_PATTERN.sub("[redacted]", text)


class _Completion:
    """A streamed completion's first choice, put together chunk by chunk."""

    def __init__(self):
        self.text: list[str] = []
        self.calls: dict[int, dict] = {}  # tool calls by index: id, name, argument fragments
        self.model = ""
        self.finish_reason = ""
        self.usage = None
        self.chosen = False

    def add(self, chunk, on_delta) -> None:
        self.model = chunk.model or self.model
        self.usage = chunk.usage or self.usage
        for choice in chunk.choices:
            if choice.index == 0:
                self.chosen = True
                self.finish_reason = choice.finish_reason or self.finish_reason
                self._add_delta(choice.delta, on_delta)

    def _add_delta(self, delta, on_delta) -> None:
        if delta.content:
            self.text.append(delta.content)
            if on_delta is not None:
                on_delta(delta.content)
        for call in delta.tool_calls or ():
            entry = self.calls.setdefault(call.index, {"id": "", "name": "", "arguments": []})
            entry["id"] = call.id or entry["id"]
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"].append(call.function.arguments or "")

    def response(self) -> LLMResponse:
        if not self.chosen:
            raise ProviderError("The model returned no choices.", retryable=False)
        tool_calls = tuple(ToolCall(id=entry["id"], name=entry["name"], arguments="".join(entry["arguments"]))
                           for _, entry in sorted(self.calls.items()))
        return LLMResponse(content="".join(self.text) if self.text else None, tool_calls=tool_calls,
                           usage=_parse_usage(self.usage), model=self.model, finish_reason=self.finish_reason)


def _assemble(stream, *, on_delta, deadline: float) -> LLMResponse:
    completion = _Completion()
    for chunk in stream:
        completion.add(chunk, on_delta)
        if time.monotonic() > deadline:
            raise ProviderError("The model call timed out while streaming.", retryable=True)
    return completion.response()


def _parse_usage(usage) -> Usage:
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_input_tokens=(details.cached_tokens or 0) if details else 0,
    )


def parse_retry_after(headers) -> float | None:
    """Seconds to wait as the server asked: `retry-after-ms`, else `Retry-After` in seconds or
    as an HTTP date. None when absent or unreadable; never negative."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
