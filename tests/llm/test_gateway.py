"""Retries of model calls, against the real OpenAI client and a local server."""

import time

import pytest

from agentops.llm.base import ProviderError
from agentops.llm.gateway import complete_with_retries
from agentops.retry import RetryPolicy

# Backoff this small never wins over a Retry-After, so waits are exactly what the server asked.
QUICK = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)


def call(provider, *, sleeps, policy=QUICK, **kwargs):
    return complete_with_retries(
        provider,
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        tools=[],
        policy=policy,
        sleep=sleeps.append,
        **kwargs,
    )


def test_rate_limited_call_is_retried_after_the_delay_the_server_asked(openai_server, provider):
    openai_server.error(429, headers={"Retry-After": "3"})
    openai_server.reply("Hello.")
    sleeps = []

    response = call(provider, sleeps=sleeps)

    assert response.content == "Hello."
    assert len(openai_server.chat_requests) == 2
    assert sleeps == [3.0]


def test_bad_request_is_not_retried(openai_server, provider):
    openai_server.error(400)
    sleeps = []

    with pytest.raises(ProviderError):
        call(provider, sleeps=sleeps)

    assert len(openai_server.chat_requests) == 1
    assert sleeps == []


def test_retries_stop_after_the_policy_max_attempts(openai_server, provider):
    for _ in range(3):
        openai_server.error(503)
    openai_server.reply("never reached")

    with pytest.raises(ProviderError) as caught:
        call(provider, sleeps=[])

    assert caught.value.status == 503
    assert len(openai_server.chat_requests) == 3


def test_on_retry_is_told_of_each_failed_attempt(openai_server, provider):
    openai_server.error(503)
    openai_server.error(429, headers={"Retry-After": "1"})
    openai_server.reply("ok")
    retries = []

    call(provider, sleeps=[], on_retry=lambda attempt, error, delay: retries.append((attempt, error.status, delay)))

    assert [(attempt, status) for attempt, status, _ in retries] == [(1, 503), (2, 429)]
    assert retries[1][2] == 1.0


def test_wait_that_would_pass_the_deadline_raises_instead(openai_server, provider):
    openai_server.error(429, headers={"Retry-After": "60"})
    openai_server.reply("too late")
    sleeps = []

    with pytest.raises(ProviderError) as caught:
        call(provider, sleeps=sleeps, deadline=time.monotonic() + 5)

    assert caught.value.status == 429
    assert sleeps == [] and len(openai_server.chat_requests) == 1


def test_attempt_is_cut_short_by_the_deadline(openai_server, provider):
    openai_server.reply("slow", delay=5)
    started = time.monotonic()

    with pytest.raises(ProviderError) as caught:
        call(provider, sleeps=[], timeout=60, deadline=time.monotonic() + 0.3)

    assert caught.value.retryable
    assert time.monotonic() - started < 3


def test_deadline_already_passed_makes_no_call(openai_server, provider):
    with pytest.raises(ProviderError) as caught:
        call(provider, sleeps=[], deadline=time.monotonic() - 1)

    assert not caught.value.retryable
    assert openai_server.chat_requests == []
