"""Model calls with retries: the one way the engine calls a provider."""

from __future__ import annotations

import time
from typing import Callable

from agentops.retry import RetryPolicy, call_with_retries

from .base import DeltaSink, LLMResponse, Provider, ProviderError, ToolSpec


def complete_with_retries(
    provider: Provider,
    *,
    model: str,
    messages: list[dict],
    tools: list[ToolSpec],
    temperature: float | None = None,
    timeout: float = 60.0,
    on_delta: DeltaSink | None = None,
    policy: RetryPolicy,
    deadline: float | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LLMResponse:
    """`provider.complete(...)`, tried again on retryable `ProviderError`s per `policy`.

    The wait before a retry is the policy's backoff or the provider's `retry_after`, whichever
    is longer. `deadline` is a `time.monotonic()` value: no attempt is given longer than the time
    left, and no wait runs past it (the last error is raised instead). `on_retry(attempt, error,
    delay)` runs before each wait, so the caller can journal failed attempts. Raises the last
    `ProviderError`.
    """

    def attempt(number: int) -> LLMResponse:
        return provider.complete(
            model=model,
            messages=messages,
            tools=tools,
            temperature=temperature,
            timeout=_time_left(timeout, deadline),
            on_delta=on_delta,
        )

    return call_with_retries(
        attempt,
        policy,
        is_retryable=lambda exc: isinstance(exc, ProviderError) and exc.retryable,
        retry_after=lambda exc: getattr(exc, "retry_after", None),
        on_retry=on_retry,
        deadline=deadline,
        sleep=sleep,
    )


def _time_left(timeout: float, deadline: float | None) -> float:
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProviderError("The run's deadline passed before the model call.", retryable=False)
    return min(timeout, left)
