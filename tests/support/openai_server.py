"""A local OpenAI-compatible chat completions and embeddings server, for tests and benchmarks.

A real HTTP server on 127.0.0.1 (ephemeral port by default), so the official `openai` client
is exercised end to end. Replies are queued; each request to POST /v1/chat/completions takes
the next one. A reply is a dict, every key optional:

    {"content": "Hello",                                      # assistant text
     "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "1042"}}],  # or a JSON string
     "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 0},
     "model": "gpt-4o-mini", "finish_reason": "stop",
     "delay": 2.0,                                            # seconds to wait before answering
     "chunks": ["Hel", "lo"], "chunk_delay": 0.2,             # streamed: the content's pieces, the pause between
     "status": 429, "body": {...}, "headers": {"Retry-After": "2"}}   # an error reply

A request with `"stream": true` is answered with server-sent events of `chat.completion.chunk`
objects, as the API does: the content a word at a time (or as `chunks`), each tool call's name
then its arguments in two pieces, the finish reason, the usage in a last chunk when
`stream_options.include_usage` asks for it, and `data: [DONE]`.

With the queue empty the server answers by a default policy: when the request offers tools
and its conversation has no tool message yet, it calls the first tool with `{}`; otherwise it
answers with the text "done". Every request is recorded (path, headers, JSON body).

In a test:

    with OpenAIServer() as server:
        server.error(429, headers={"Retry-After": "1"})
        server.reply(content="Hello")
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert len(server.requests) == 2

POST /v1/embeddings answers every input with a deterministic vector (`embedding_of`: hashed
character trigrams of its words, EMBEDDING_DIMENSIONS long, unit length), so texts sharing word
parts ("allergic", "allergies") are near although no stemmer makes them the same word.

From another process (workers of the crash tests, benchmarks):

    python -m tests.support.openai_server --port 0 --script replies.json

prints "listening on http://127.0.0.1:PORT/v1" on its first line, then serves until killed.
`replies.json` is a list of replies as above. GET /_requests returns the recorded requests
as JSON and POST /_replies queues more replies (one dict or a list).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CONTENT = "done"
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
EMBEDDING_PATHS = ("/v1/embeddings", "/embeddings")
EMBEDDING_DIMENSIONS = 256


def embedding_of(text: str) -> list[float]:
    """A hashed bag of the character trigrams of `text`'s words, normalised to unit length."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"#{word}#"
        for start in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[start:start + 3].encode(), digest_size=4).digest()
            number = int.from_bytes(digest, "little")
            vector[number % EMBEDDING_DIMENSIONS] += 1.0 if number & 1 << 31 else -1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def embeddings_reply(body: dict) -> dict:
    texts = body.get("input") or []
    texts = [texts] if isinstance(texts, str) else texts
    return {"object": "list", "model": body.get("model", ""),
            "data": [{"object": "embedding", "index": index, "embedding": embedding_of(text)}
                     for index, text in enumerate(texts)],
            "usage": {"prompt_tokens": sum(len(text.split()) for text in texts), "total_tokens": 0}}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict  # lower-cased names
    body: object  # parsed JSON, or the raw text when it is not JSON


class OpenAIServer:
    def __init__(self, port: int = 0, replies: list[dict] | None = None):
        self._port = port
        self._replies: deque[dict] = deque(replies or ())
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    def start(self) -> OpenAIServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.daemon_threads = True  # a client that hangs up never blocks stop()
        self._httpd.owner = self
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick: shutdown() waits for the loop's next poll.
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts short any reply still waiting out its delay
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # Script

    def enqueue(self, *replies: dict) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reply(self, content: str | None = None, *, tool_calls: list[dict] | None = None, **extra) -> None:
        """Queue a completion; `extra` takes the other reply keys (usage, model, delay, ...)."""
        self.enqueue({"content": content, "tool_calls": tool_calls or [], **extra})

    def error(
        self, status: int, *, body: dict | str | None = None, headers: dict | None = None, delay: float = 0
    ) -> None:
        """Queue an error reply; `body` defaults to an OpenAI-style error object."""
        self.enqueue({"status": status, "body": body, "headers": headers or {}, "delay": delay})

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path in CHAT_PATHS]

    # Used by the handler

    def _record(self, request: RecordedRequest) -> int:
        with self._lock:
            self._requests.append(request)
            return len(self._requests)

    def _next_reply(self, body: dict) -> dict:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return default_reply(body)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def default_reply(body: dict) -> dict:
    """Call the first offered tool with {} until a tool result is in the conversation, then say "done"."""
    tools = body.get("tools") or []
    has_result = any(message.get("role") == "tool" for message in body.get("messages") or [])
    if tools and not has_result:
        return {"tool_calls": [{"name": tools[0]["function"]["name"], "arguments": {}}]}
    return {"content": DEFAULT_CONTENT}


def completion(number: int, body: dict, reply: dict) -> dict:
    """`reply` in the OpenAI chat completion format."""
    tool_calls = [
        {
            "id": call.get("id", f"call_{number}_{i}"),
            "type": "function",
            "function": {"name": call["name"], "arguments": _as_text(call.get("arguments", {}))},
        }
        for i, call in enumerate(reply.get("tool_calls") or [])
    ]
    content = reply.get("content")
    message = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.get("model") or body.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.get("finish_reason") or ("tool_calls" if tool_calls else "stop"),
                "logprobs": None,
            }
        ],
        "usage": _usage(body, reply, content, tool_calls),
    }


def _usage(body: dict, reply: dict, content: str | None, tool_calls: list) -> dict:
    usage = reply.get("usage") or {}
    prompt = usage.get("prompt_tokens", len(json.dumps(body.get("messages", []))) // 4)
    output = usage.get("completion_tokens", len(content or json.dumps(tool_calls)) // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": usage.get("cached_tokens", 0)},
    }


def stream_chunks(whole: dict, reply: dict, body: dict) -> list[dict]:
    """The completion `whole` as the chunks of a streamed answer."""
    choice = whole["choices"][0]
    message = choice["message"]
    content = message["content"] or ""
    pieces = reply.get("chunks") or re.findall(r"\s*\S+(?:\s+$)?", content)
    deltas = [{"role": "assistant", "content": ""}] + [{"content": piece} for piece in pieces]
    for index, call in enumerate(message.get("tool_calls") or []):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                       "function": {"name": call["function"]["name"], "arguments": arguments[:half]}}]})
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]})
    base = {key: whole[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    chunks = [base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(base | {"choices": [], "usage": whole["usage"]})
    return chunks


def error_body(status: int, body) -> dict | str:
    if body is not None:
        return body
    return {"error": {"message": f"Test server error {status}.", "type": "test_error", "param": None, "code": None}}


def _as_text(arguments) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: benchmarks should not reconnect per call

    def do_POST(self):
        body = self._read_body()
        number = self.server.owner._record(RecordedRequest("POST", self.path, self._headers(), body))
        if self.path in CHAT_PATHS:
            self._chat(number, body if isinstance(body, dict) else {})
        elif self.path in EMBEDDING_PATHS:
            self._send(200, embeddings_reply(body if isinstance(body, dict) else {}))
        elif self.path == "/_replies":
            self.server.owner.enqueue(*(body if isinstance(body, list) else [body]))
            self._send(204, None)
        else:
            self._send(404, error_body(404, None))

    def do_GET(self):
        if self.path == "/_requests":
            self._send(200, [asdict(request) for request in self.server.owner.requests])
        else:
            self._send(404, error_body(404, None))

    def _chat(self, number: int, body: dict) -> None:
        owner = self.server.owner
        reply = owner._next_reply(body)
        if reply.get("delay"):
            owner._wait(reply["delay"])
        status = reply.get("status") or 200
        if status >= 400:
            self._send(status, error_body(status, reply.get("body")), reply.get("headers") or {})
        elif body.get("stream"):
            self._stream(completion(number, body, reply), reply, body)
        else:
            self._send(200, completion(number, body, reply), reply.get("headers") or {})

    def _stream(self, whole: dict, reply: dict, body: dict) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")  # the end of the stream is the end of the body
            self.end_headers()
            self.close_connection = True
            for number, chunk in enumerate(stream_chunks(whole, reply, body)):
                if number and reply.get("chunk_delay"):
                    self.server.owner._wait(reply["chunk_delay"])
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _read_body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def _headers(self) -> dict:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send(self, status: int, payload, headers: dict | None = None) -> None:
        data = b"" if payload is None else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to answer

    def log_message(self, format, *args):
        pass  # keep test output clean


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--script", help="JSON file with a list of replies")
    args = parser.parse_args(argv)
    replies = []
    if args.script:
        with open(args.script) as script:
            replies = json.load(script)
    server = OpenAIServer(port=args.port, replies=replies).start()
    print(f"listening on {server.base_url}", flush=True)
    try:
        server._thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
