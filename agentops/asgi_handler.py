"""Django's ASGI handler, with an async streaming response that holds no thread while it streams.

Django runs each request in its own `ThreadSensitiveContext`: the first thread-sensitive call
(a synchronous middleware, including the `process_request`/`process_response` of Django's own
`MiddlewareMixin` ones even in async mode, or a synchronous view such as DRF's) starts a thread
for the request, and that thread lives until the context ends, after the response's last byte.
For a stream that waits on the event loop for minutes (the run event stream, docs/streaming.md)
it would be a thread per open stream, idle all along.

Here the request's thread-sensitive calls go to a `RequestThread` of the handler's own (asgiref's
`ThreadSensitiveContext(executor=...)`), which is ended, its database connections closed, once
the middleware and the view are done and an async iterator is to be streamed. What the request
calls thread-sensitively after that (the response's `close()` at the end) starts a thread again,
for that moment.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.db import connections


class RequestThread(Executor):
    """One request's thread for its thread-sensitive calls: started by the first call, ended by
    `shutdown()`; a call after that starts another. One call at a time, in order, as asgiref
    requires of a thread-sensitive executor."""

    def __init__(self):
        self.pool: ThreadPoolExecutor | None = None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    async def release(self) -> None:
        """End the thread without blocking the event loop, closing the database connections it
        opened (they are the thread's own: no other thread could use or close them)."""
        if self.pool is None:
            return
        await asyncio.get_running_loop().run_in_executor(self, connections.close_all)
        self.shutdown(wait=False)  # its work is done: the thread exits on its own


current_request_thread: ContextVar[RequestThread] = ContextVar("current_request_thread")


class ASGIHandler(DjangoASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # refuses it
        thread = RequestThread()
        token = current_request_thread.set(thread)
        try:
            # Django's own context, entered inside this one, finds it and leaves it be.
            async with ThreadSensitiveContext(executor=thread):
                await super().__call__(scope, receive, send)
        finally:
            current_request_thread.reset(token)
            thread.shutdown(wait=False)

    async def send_response(self, response, send):
        # A synchronous iterator is read in the request's thread (Django's __aiter__): keep it.
        if response.streaming and response.is_async:
            thread = current_request_thread.get(None)
            if thread is not None:
                await thread.release()
        await super().send_response(response, send)
