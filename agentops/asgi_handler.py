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
for that moment. Every request's thread ends with the request, its connections closed (Django's
own leaves them to the garbage collector, with the thread).

At most ASGI_REQUEST_THREADS requests at once are in their synchronous part (middleware and
view, each with its thread and, soon, its database connection); more wait their turn on the
event loop. Django's own handler has no such bound: a burst of requests, such as a few hundred
event streams opened at once, starts as many threads and database connections, past
PostgreSQL's limit. A request gives its turn back as soon as its response is ready to send.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.db import connections


class RequestThread(Executor):
    """One request's thread for its thread-sensitive calls: started by the first call, ended by
    `shutdown()`; a call after that starts another. One call at a time, in order, as asgiref
    requires of a thread-sensitive executor."""

    def __init__(self):
        self.pool: ThreadPoolExecutor | None = None
        self.turn: asyncio.Semaphore | None = None

    async def take_turn(self, turns: asyncio.Semaphore) -> None:
        await turns.acquire()
        self.turn = turns

    def give_turn_back(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()

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
        opened: they are the thread's own, no other thread could use or close them, and left to
        the garbage collector they would stay open for a while after the thread is gone."""
        if self.pool is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self, connections.close_all)
        finally:
            self.shutdown(wait=False)  # its work is done: the thread exits on its own


current_request_thread: ContextVar[RequestThread] = ContextVar("current_request_thread")


class ASGIHandler(DjangoASGIHandler):
    def __init__(self):
        super().__init__()
        self.turns: asyncio.Semaphore | None = None
        self.turns_loop: asyncio.AbstractEventLoop | None = None

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
            thread.give_turn_back()
            await thread.release()

    async def run_get_response(self, request):
        """Middleware and view, in the request's turn (the body has been read: a slow upload
        takes no turn)."""
        await current_request_thread.get().take_turn(self.request_turns())
        return await super().run_get_response(request)

    async def send_response(self, response, send):
        thread = current_request_thread.get(None)
        # A synchronous iterator is read in the request's thread (Django's __aiter__): keep both.
        if thread is not None and not (response.streaming and not response.is_async):
            thread.give_turn_back()
            if response.streaming:
                await thread.release()
        await super().send_response(response, send)

    def request_turns(self) -> asyncio.Semaphore:
        """The semaphore of this event loop (a semaphore belongs to one loop; tests start several)."""
        loop = asyncio.get_running_loop()
        if self.turns_loop is not loop:
            self.turns, self.turns_loop = asyncio.Semaphore(settings.ASGI_REQUEST_THREADS), loop
        return self.turns
