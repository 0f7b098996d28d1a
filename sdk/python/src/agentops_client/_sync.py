from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Optional, Union

import httpx

from ._base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, BaseClient, Call, Retries
from .errors import RunWaitTimeout
from .pagination import Pager
from .resources import Agents, Approvals, Evals, Memory, Runs, Tools
from .streaming import EventStream, RunEvent


class AgentOps(BaseClient):
    """The AgentOps API. `api_key` defaults to AGENTOPS_API_KEY, `base_url` (the server's root) to
    AGENTOPS_BASE_URL, else http://127.0.0.1:8000. Use it as a context manager, or `close()` it."""

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None, *,
                 timeout: Union[float, httpx.Timeout] = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 http_client: Optional[httpx.Client] = None) -> None:
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._http = http_client or httpx.Client(**self._http_options())
        self.runs, self.approvals = Runs(self), Approvals(self)
        self.agents, self.tools, self.memory = Agents(self), Tools(self), Memory(self)
        self.evals = Evals(self)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AgentOps":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        retries = Retries(call, self.max_retries)
        while (delay := retries.after(self._attempt(call))) is not None:
            time.sleep(delay)
        return self._result(call, retries.result)

    def _attempt(self, call: Call) -> Union[httpx.Response, httpx.TransportError]:
        try:
            response = self._http.send(self._request(self._http, call), stream=call.stream)
        except httpx.TransportError as error:
            return error
        if call.stream and response.status_code >= 400:
            response.read()  # the error envelope
            response.close()
        return response

    def _pager(self, fetch: Callable) -> Pager:
        return Pager(fetch)

    def _wait(self, get: Callable[[], Any], *, timeout: Optional[float], poll_interval: float) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (run := get()).ended:
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise RunWaitTimeout(f"run {run.id} is still {run.status} after {timeout} s", run=run)
            time.sleep(poll_interval)
        return run

    def _stream(self, stream: EventStream) -> Iterator[RunEvent]:
        while not stream.ended:
            try:
                response = self._send(stream.call())
                try:
                    stream.opened(response)
                    for line in response.iter_lines():
                        if event := stream.feed(line):
                            yield event
                finally:
                    response.close()
            except httpx.TransportError as error:
                time.sleep(stream.dropped(error))
                continue
            if not stream.ended:
                time.sleep(stream.dropped(None))
