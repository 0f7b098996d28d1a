"""Real servers on 127.0.0.1 for the tool adapter tests: HTTP, GraphQL, gRPC and MCP.

- `ScriptedHTTPServer`: answers each request with the next queued `Reply` (or with `handler`
  when the queue is empty) and records every request.
- `graphql_server()`: a ScriptedHTTPServer whose handler executes GraphQL with graphql-core
  against a small inventory schema.
- `GrpcInventoryServer`: the `agentops.testing.Inventory` service compiled from `INVENTORY_PROTO`
  at run time with grpcio-tools, optionally with server reflection.
- `McpHttpServer`: `tool_mcp_server.py` run as a separate process over streamable HTTP; the same
  script serves stdio when started without arguments (`MCP_SERVER_SCRIPT`).
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

MCP_SERVER_SCRIPT = Path(__file__).with_name("tool_mcp_server.py")


# HTTP


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict  # name -> list of values
    headers: dict  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """A scripted answer. `body` is sent as JSON unless it is str/bytes or a callable of the request."""

    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    missing: int = 0  # announce this many bytes more than are sent: the connection drops mid-body


class _IPv6HTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class ScriptedHTTPServer:
    """Listens on `host` (127.0.0.1, another loopback address such as 127.0.0.2, or ::1) and
    `port` (any free one by default)."""

    def __init__(self, handler: Callable[[RecordedRequest], Reply] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.handler = handler or (lambda request: Reply(500, {"error": "no reply scripted"}))
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server_class = _IPv6HTTPServer if ":" in host else ThreadingHTTPServer
        self._httpd = server_class((host, port), _Handler)
        self._httpd.daemon_threads = True  # A handler still sleeping never blocks stop().
        self._httpd.block_on_close = False
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def reply(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> ScriptedHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._replies.popleft() if self._replies else None
        return scripted or self.handler(request)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # Keep test output quiet.
        pass

    def _serve(self) -> None:
        owner: ScriptedHTTPServer = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        reply = owner._answer(request)
        if reply.delay and owner._stopping.wait(reply.delay):
            return
        body = reply.body(request) if callable(reply.body) else reply.body
        if isinstance(body, str):
            payload, content_type = body.encode(), "text/plain; charset=utf-8"
        elif isinstance(body, bytes):
            payload, content_type = body, "application/octet-stream"
        elif body is None:
            payload, content_type = b"", "text/plain"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload) + reply.missing))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The client gave up (a timeout test); nothing to do.

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class Payments:
    """A payments endpoint on a ScriptedHTTPServer that counts, by idempotency key, how many times
    it applied a payment (`applied`). Each request takes the next of `answers` (then "ok"):

    - "ok": apply, answer 201 at once; "slow": apply, answer after `delay` seconds (past the
      caller's timeout); "500": apply, then fail; "503": fail without applying; "429": refuse
      without applying, with `Retry-After: 0`.

    With `dedup` it applies each key once, like an API that honours idempotency keys; without,
    every request it receives is one more payment (a tool that is not idempotent).
    """

    def __init__(self, *answers: str, dedup: bool = False, delay: float = 2.0, port: int = 0) -> None:
        self.answers = deque(answers)
        self.dedup = dedup
        self.delay = delay
        self.applied: dict[str, int] = {}
        self.server = ScriptedHTTPServer(self._handle, port=port)

    def __enter__(self) -> Payments:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _handle(self, request: RecordedRequest) -> Reply:
        answer = self.answers.popleft() if self.answers else "ok"
        key = request.headers.get("idempotency-key", "")
        if answer in ("ok", "slow", "500") and not (self.dedup and key in self.applied):
            self.applied[key] = self.applied.get(key, 0) + 1
        if answer == "429":
            return Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"})
        if answer in ("500", "503"):
            return Reply(int(answer), {"error": "payments are unwell"})
        return Reply(201, {"payment": request.json(), "key": key}, delay=self.delay if answer == "slow" else 0.0)


# GraphQL

INVENTORY_SDL = """
type Item { sku: String!  name: String!  quantity: Int! }
type Query {
  item(sku: String!): Item
  viewer: String
}
"""
ITEMS = {"A-1": {"sku": "A-1", "name": "Anvil", "quantity": 3}}


def graphql_server() -> ScriptedHTTPServer:
    """A GraphQL endpoint at POST /graphql. `viewer` returns the request's Authorization header."""
    from graphql import build_schema, graphql_sync

    schema = build_schema(INVENTORY_SDL)

    def handle(request: RecordedRequest) -> Reply:
        payload = request.json() or {}

        def item(info, sku):
            if sku not in ITEMS:
                raise LookupError(f"No item with SKU {sku}.")
            return ITEMS[sku]

        root = {"item": item, "viewer": lambda info: request.headers.get("authorization")}
        result = graphql_sync(
            schema,
            payload.get("query", ""),
            root_value=root,
            variable_values=payload.get("variables"),
            operation_name=payload.get("operationName"),
        )
        body: dict = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        return Reply(200, body)

    return ScriptedHTTPServer(handler=handle)


# gRPC

INVENTORY_PROTO = """
syntax = "proto3";
package agentops.testing;

message ItemRequest {
  string sku = 1;
  int32 quantity = 2;
}

message Item {
  string sku = 1;
  int32 quantity = 2;
  string idempotency_key = 3;
  string authorization = 4;
}

service Inventory {
  rpc GetItem(ItemRequest) returns (Item);
  rpc WatchItem(ItemRequest) returns (stream Item);
}
"""
INVENTORY_SERVICE = "agentops.testing.Inventory"


def compile_inventory_proto(workdir: Path) -> bytes:
    """Compile INVENTORY_PROTO with grpcio-tools' protoc; return the serialized FileDescriptorSet."""
    from grpc_tools import protoc

    (workdir / "inventory.proto").write_text(INVENTORY_PROTO)
    out = workdir / "inventory.pb"
    code = protoc.main(
        ["protoc", f"-I{workdir}", f"--descriptor_set_out={out}", "--include_imports", "inventory.proto"]
    )
    assert code == 0, "protoc failed"
    return out.read_bytes()


class GrpcInventoryServer:
    """Inventory.GetItem: echoes the request plus the `idempotency-key` and `authorization`
    metadata it received. SKU "unavailable" aborts with UNAVAILABLE, an empty SKU with
    INVALID_ARGUMENT. Every call's metadata is recorded in `calls`."""

    def __init__(self, descriptor_set: bytes, *, reflection: bool) -> None:
        import grpc
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        from grpc_reflection.v1alpha import reflection as grpc_reflection

        self.descriptor_set_b64 = base64.b64encode(descriptor_set).decode()
        self.calls: list[dict] = []
        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file:
            pool.Add(file)
        request_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("agentops.testing.ItemRequest"))
        item_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("agentops.testing.Item"))

        def get_item(request, context):
            metadata = dict(context.invocation_metadata())
            self.calls.append(metadata)
            if request.sku == "unavailable":
                context.abort(grpc.StatusCode.UNAVAILABLE, "inventory is restarting")
            if not request.sku:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sku is required")
            return item_class(
                sku=request.sku,
                quantity=request.quantity,
                idempotency_key=metadata.get("idempotency-key", ""),
                authorization=metadata.get("authorization", ""),
            )

        handler = grpc.method_handlers_generic_handler(
            INVENTORY_SERVICE,
            {
                "GetItem": grpc.unary_unary_rpc_method_handler(
                    get_item,
                    request_deserializer=request_class.FromString,
                    response_serializer=item_class.SerializeToString,
                )
            },
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        if reflection:
            grpc_reflection.enable_server_reflection(
                (INVENTORY_SERVICE, grpc_reflection.SERVICE_NAME), self._server, pool=pool
            )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def start(self) -> GrpcInventoryServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)


# MCP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class McpHttpServer:
    """tool_mcp_server.py over streamable HTTP in its own process, at `url`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._process: subprocess.Popen | None = None

    def start(self, wait: float = 15.0) -> McpHttpServer:
        self._process = subprocess.Popen(
            [sys.executable, str(MCP_SERVER_SCRIPT), "--http", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("the MCP test server exited during start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the MCP test server did not start listening")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
