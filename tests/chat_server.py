"""A loopback HTTP server that speaks the OpenAI chat-completions protocol with scripted answers.

The real client (``agents.vlm_client.ChatClient``) talks to it over a socket, so retries, timeouts,
status codes and headers are exercised for real. ``ChatServer.hits`` counts POSTs to
``/v1/chat/completions``; ``requests`` keeps each decoded request body.

Replies come from ``script`` (a list consumed in order) and then from ``default`` (a callable taking the
request body and returning a ``Reply``), so a test can say "first a 500, then a 429, then good answers".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = ""  # None: JSON null, as a reasoning model cut short in its thinking sends
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (a slow server)
    hold: threading.Event | None = None  # answer once the test sets it (slow for exactly as long as needed)
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 100
    completion_tokens: int = 20
    reasoning: str | None = None
    body: bytes | None = None  # raw body instead of a chat completion (garbage, error JSON)
    finish_reason: str = "stop"  # "length": cut at max_tokens


def good(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def server_error(status: int = 500) -> Reply:
    return Reply(status=status, body=json.dumps({"error": {"message": "scripted failure"}}).encode())


def rate_limited(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=429, headers=headers, body=b'{"error": {"message": "slow down"}}')


def bad_request(status: int = 404, message: str = "model 'x' does not exist") -> Reply:
    return Reply(status=status, body=json.dumps({"error": {"message": message}}).encode())


def not_json() -> Reply:
    return Reply(status=200, body=b"<html>this is not a chat completion</html>")


class ChatServer:
    """``with ChatServer(default=lambda body: good("...")) as server: ... server.url ...``"""

    def __init__(self, script: list[Reply] | None = None,
                 default: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.script = list(script or [])
        self.default = default or (lambda body: Reply(content="I cannot tell."))
        self.hits = 0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server was answering at once
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.hits += 1
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        return self.default(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "unknown path"}}', {})
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with server._lock:
                    server.headers.append(dict(self.headers))
                reply = server._next_reply(body)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.hold is not None:
                        reply.hold.wait(60)
                    self._reply(reply, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _reply(self, reply: Reply, body: dict[str, Any]) -> None:
                payload = reply.body
                if payload is None:
                    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                    if reply.reasoning is not None:
                        message["reasoning_content"] = reply.reasoning
                    payload = json.dumps({
                        "id": f"chatcmpl-{server.hits}", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                        "usage": {"prompt_tokens": reply.prompt_tokens,
                                  "completion_tokens": reply.completion_tokens,
                                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
                    }).encode()
                self._send(reply.status, payload, reply.headers)

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up: that is what a slow reply tests

        return Handler
