"""Retries with exponential backoff and full jitter, shared by the model and tool gateways.

A callee signals a transient failure by raising an exception that `is_retryable` accepts; it may
carry a server-requested delay (`Retry-After`), which wins over the computed backoff when longer.
The loop never sleeps past `deadline` (a `time.monotonic()` value): the last error is raised instead.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0

    @classmethod
    def from_dict(cls, data: dict | None) -> "RetryPolicy":
        data = data or {}
        return cls(
            max_attempts=max(1, int(data.get("max_attempts", cls.max_attempts))),
            base_delay=max(0.0, float(data.get("base_delay", cls.base_delay))),
            max_delay=max(0.0, float(data.get("max_delay", cls.max_delay))),
        )

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before attempt `attempt + 1` (attempts count from 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def call_with_retries(
    fn: Callable[[int], T],
    policy: RetryPolicy,
    *,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn(attempt)` until it succeeds, fails permanently, or attempts run out.

    `on_retry(attempt, error, delay)` is called before each wait, so callers can record attempts.
    """
    attempt = 1
    while True:
        try:
            return fn(attempt)
        except Exception as exc:
            if attempt >= policy.max_attempts or not is_retryable(exc):
                raise
            delay = max(policy.backoff(attempt), retry_after(exc) or 0.0)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise
            if on_retry:
                on_retry(attempt, exc, delay)
            sleep(delay)
            attempt += 1
