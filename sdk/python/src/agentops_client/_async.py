from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Optional, Union

import httpx

from ._base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, BaseClient, Call, Retries
from .errors import RunWaitTimeout
from .pagination import AsyncPager
from .resources import Agents, Approvals, Evals, Memory, Runs, Tools
from .streaming import EventStream, RunEvent


class AsyncAgentOps(BaseClient):
    """The AgentOps API for asyncio: the surface of `AgentOps`, each call awaited (`await
    client.runs.get(id)`), lists and streams iterated with `async for`."""

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None, *,
                 timeout: Union[float, httpx.Timeout] = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 http_client: Optional[httpx.AsyncClient] = None) -> None:
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._http = http_client or httpx.AsyncClient(**self._http_options())
        self.runs, self.approvals = Runs(self), Approvals(self)
        self.agents, self.tools, self.memory = Agents(self), Tools(self), Memory(self)
        self.evals = Evals(self)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncAgentOps":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, call: Call) -> Any:
        retries = Retries(call, self.max_retries)
        while (delay := retries.after(await self._attempt(call))) is not None:
            await asyncio.sleep(delay)
        return self._result(call, retries.result)

    async def _attempt(self, call: Call) -> Union[httpx.Response, httpx.TransportError]:
        try:
            response = await self._http.send(self._request(self._http, call), stream=call.stream)
        except httpx.TransportError as error:
            return error
        if call.stream and response.status_code >= 400:
            await response.aread()  # the error envelope
            await response.aclose()
        return response

    def _pager(self, fetch: Callable) -> AsyncPager:
        return AsyncPager(fetch)

    async def _wait(self, get: Callable[[], Any], *, timeout: Optional[float], poll_interval: float) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (run := await get()).ended:
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise RunWaitTimeout(f"run {run.id} is still {run.status} after {timeout} s", run=run)
            await asyncio.sleep(poll_interval)
        return run

    async def _stream(self, stream: EventStream) -> AsyncIterator[RunEvent]:
        while not stream.ended:
            try:
                response = await self._send(stream.call())
                try:
                    stream.opened(response)
                    async for line in response.aiter_lines():
                        if event := stream.feed(line):
                            yield event
                finally:
                    await response.aclose()
            except httpx.TransportError as error:
                await asyncio.sleep(stream.dropped(error))
                continue
            if not stream.ended:
                await asyncio.sleep(stream.dropped(None))
