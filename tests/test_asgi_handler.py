"""The project's ASGI handler (agentops/asgi_handler.py), driven in this process as daphne drives
it: the request's own thread ends when an async iterator starts streaming, and is kept for a
synchronous one. (The live event stream on a real port: tests/runs/test_event_stream.py.)"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from asgiref.testing import ApplicationCommunicator
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from agentops.asgi_handler import ASGIHandler

seen: dict[str, object] = {}


async def alive_after_a_moment(thread: threading.Thread) -> bool:
    for _ in range(100):  # the thread was told to end; give it the moment it takes
        if not thread.is_alive():
            return False
        await asyncio.sleep(0.02)
    return True


def async_stream(request):
    view_thread = threading.current_thread()  # a sync view: the request's thread

    async def content():
        yield b"first\n"
        seen["view's thread alive while streaming"] = await alive_after_a_moment(view_thread)
        yield b"last\n"

    return StreamingHttpResponse(content())


def sync_stream(request):
    def content():
        seen["reader's thread"] = threading.current_thread().name
        yield b"all\n"

    return StreamingHttpResponse(content())


in_view = {"now": 0, "most": 0}
in_view_lock = threading.Lock()


def slow_view(request):
    with in_view_lock:
        in_view["now"] += 1
        in_view["most"] = max(in_view["most"], in_view["now"])
    time.sleep(0.1)
    with in_view_lock:
        in_view["now"] -= 1
    return HttpResponse("done")


urlpatterns = [path("async-stream/", async_stream), path("sync-stream/", sync_stream), path("slow/", slow_view)]


def scope_for(path: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}


async def exchange(handler: ASGIHandler, path: str) -> tuple[int, bytes]:
    """One GET through the handler: (status, body)."""
    communicator = ApplicationCommunicator(handler, scope_for(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start, body = await communicator.receive_output(5), b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            await communicator.wait(5)
            return start["status"], body


def serve(path: str) -> tuple[int, bytes]:
    return asyncio.run(exchange(ASGIHandler(), path))


@pytest.mark.urls(__name__)
def test_an_async_stream_holds_no_thread_of_its_request_while_it_streams():
    assert serve("/async-stream/") == (200, b"first\nlast\n")

    assert seen["view's thread alive while streaming"] is False


@pytest.mark.urls(__name__)
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_sync_stream_is_still_read_in_its_requests_thread():
    assert serve("/sync-stream/") == (200, b"all\n")

    assert seen["reader's thread"].startswith("request")  # a RequestThread's


def test_an_api_error_is_enveloped_by_the_async_middleware_chain():
    status, body = serve("/api/v1/no-such-thing/")  # Django's own 404 page, made the envelope

    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


@pytest.mark.urls(__name__)
def test_no_more_requests_than_asgi_request_threads_run_their_view_at_once(settings):
    settings.ASGI_REQUEST_THREADS = 2

    async def burst():
        handler = ASGIHandler()
        return await asyncio.gather(*(exchange(handler, "/slow/") for _ in range(6)))

    assert asyncio.run(burst()) == [(200, b"done")] * 6
    assert in_view["most"] == 2  # the others waited their turn, on the event loop
