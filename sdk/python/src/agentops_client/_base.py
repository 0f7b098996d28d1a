"""What the sync and the async client share: configuration, requests as data (`Call`), the retry
policy, and reading answers. Each client only sends and sleeps its own way."""

from __future__ import annotations

import dataclasses
import os
import random
import uuid
from typing import Any, Callable, Dict, Generic, List, Optional, TypeVar, Union
from urllib.parse import urlsplit

import httpx

from . import errors
from ._version import __version__

T = TypeVar("T")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited out: the error is raised instead


@dataclasses.dataclass(frozen=True)
class Call:
    """One API request. `replayable`: sending it twice does no harm (a read, or a create carrying
    an idempotency key), so it is retried even when it may have reached the server; otherwise only
    when it provably did not (connection refused, 429)."""

    method: str
    path: str
    params: Optional[Dict[str, Any]] = None
    json: Any = None
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)
    parse: Callable[[Any], Any] = lambda body: body
    replayable: bool = True
    stream: bool = False


@dataclasses.dataclass
class Page(Generic[T]):
    """One page of a list: its items and how to ask for the next one (None at the end)."""

    data: List[T]
    next: Any


def new_idempotency_key() -> str:
    return f"agentops-client-{uuid.uuid4()}"


def relative(url: Optional[str]) -> Optional[str]:
    """The path and query of a `next` link: followed against the client's own base URL, so a
    proxy in between (which the server cannot know of) does not send the next request elsewhere."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def drop_none(values: Dict[str, Any]) -> Dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


class Retries:
    """The retry policy of one call: exponential backoff with jitter on 429, 5xx and connection
    failures, honouring Retry-After. `after(outcome)` returns the seconds to wait before the next
    attempt, or None when `outcome` succeeded (then `result` holds it); it raises the typed error
    once retrying cannot help or the attempts are used up."""

    def __init__(self, call: Call, max_retries: int) -> None:
        self.call, self.max_retries, self.retries = call, max_retries, 0
        self.result: Any = None

    def after(self, outcome: Union[httpx.Response, httpx.TransportError]) -> Optional[float]:
        if isinstance(outcome, httpx.Response) and outcome.status_code < 400:
            self.result = outcome
            return None
        if not self._retryable(outcome) or self.retries >= self.max_retries:
            raise self._error(outcome)
        self.retries += 1
        return self._delay(outcome)

    def _retryable(self, outcome) -> bool:
        if isinstance(outcome, httpx.Response):
            return outcome.status_code == 429 or (outcome.status_code >= 500 and self.call.replayable)
        unsent = isinstance(outcome, (httpx.ConnectError, httpx.ConnectTimeout))
        return unsent or self.call.replayable

    def _delay(self, outcome) -> float:
        if isinstance(outcome, httpx.Response):
            asked = errors.retry_after_seconds(outcome)
            if asked is not None and asked <= MAX_RETRY_AFTER:
                return asked
        return backoff(self.retries)

    @staticmethod
    def _error(outcome) -> errors.APIError:
        if isinstance(outcome, httpx.Response):
            return errors.error_from_response(outcome)
        if isinstance(outcome, httpx.TimeoutException):
            return errors.APITimeoutError(f"Request timed out: {outcome}")
        return errors.APIConnectionError(f"Connection error: {outcome}")


def backoff(retry: int) -> float:
    """The wait before retry number `retry` (1, 2, ...): doubling, capped, with up to 25% jitter
    so that many clients refused at once do not come back at once."""
    delay = min(INITIAL_RETRY_DELAY * 2 ** (retry - 1), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


class BaseClient:
    def __init__(self, *, api_key: Optional[str], base_url: Optional[str], timeout: Union[float, httpx.Timeout],
                 max_retries: int) -> None:
        api_key = api_key or os.environ.get("AGENTOPS_API_KEY")
        if not api_key:
            raise errors.AgentOpsError("No API key: pass api_key= or set AGENTOPS_API_KEY.")
        base_url = (base_url or os.environ.get("AGENTOPS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key
        self.base_url = base_url[: -len("/api/v1")] if base_url.endswith("/api/v1") else base_url
        self.timeout = timeout
        self.max_retries = max_retries

    def _http_options(self) -> Dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"agentops-client/{__version__}",
                   "Accept": "application/json"}
        return {"base_url": self.base_url, "headers": headers, "timeout": self.timeout}

    @staticmethod
    def _result(call: Call, response: httpx.Response) -> Any:
        """What a call returns: the open response of a stream, None for 204, else the parsed body."""
        if call.stream:
            return response
        return None if response.status_code == 204 else call.parse(response.json())

    @staticmethod
    def _request(http: Union[httpx.Client, httpx.AsyncClient], call: Call) -> httpx.Request:
        path = call.path if call.path.startswith("/api/") else f"/api/v1{call.path}"
        return http.build_request(call.method, path, params=call.params, json=call.json, headers=call.headers)
