"""A loopback HTTP server that speaks the OpenAI chat-completions protocol with scripted answers.

The real client (``agents.vlm_client.ChatClient``) talks to it over a socket, so retries, timeouts,
status codes and headers are exercised for real. ``ChatServer.hits`` counts POSTs to
``/v1/chat/completions``; ``requests`` keeps each decoded request body.

Replies come from ``script`` (a list consumed in order) and then from ``default`` (a callable taking the
request body and returning a ``Reply``), so a test can say "first a 500, then a 429, then good answers".

Shaped as vLLM's OpenAI server (0.34) answers: an error body is ``{"error": {"message", "type", "param",
"code"}}``, an unknown path FastAPI's ``{"detail": "Not Found"}``, a message carries ``"refusal": null``,
and a request vLLM would refuse (a body that is no JSON or not sent as JSON, no messages, a content part of
another type, an image that is no base64 data URL of a picture, ``max_tokens`` below 1, a negative
temperature) is answered 400 before any scripted reply, without counting as a hit: every test sends what a
real server takes.
"""

from __future__ import annotations

import base64
import binascii
import io
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
    completion_tokens: int | None = None  # None: 20, or all the request's max_tokens for a "length" finish
    reasoning: str | None = None
    body: bytes | None = None  # raw body instead of a chat completion (garbage, error JSON)
    finish_reason: str = "stop"  # "length": cut at max_tokens; "tool_calls" with tool_calls
    reasoning_field: str = "reasoning_content"  # SGLang's and llama-server's; vLLM's and Ollama's "reasoning"
    tool_calls: list[dict[str, Any]] | None = None  # sent beside content (null, as a model calling a tool)


def good(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def error_body(status: int, message: str, kind: str | None = None) -> bytes:
    """An error body as vLLM's OpenAI server sends it (``ErrorResponse``: its ``code`` is the status)."""
    kinds = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError"}
    kind = kind or kinds.get(status, "InternalServerError" if status >= 500 else "BadRequestError")
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": status}}).encode()


def server_error(status: int = 500) -> Reply:
    return Reply(status=status, body=error_body(status, "scripted failure"))


def rate_limited(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    # OpenAI's rate limit (vLLM sends no 429 of its own)
    body = {"error": {"message": "slow down", "type": "requests", "param": None,
                      "code": "rate_limit_exceeded"}}
    return Reply(status=429, headers=headers, body=json.dumps(body).encode())


def bad_request(status: int = 404, message: str = "model 'x' does not exist") -> Reply:
    return Reply(status=status, body=error_body(status, message))


def tool_call(name: str = "press", arguments: str = '{"button": "UP"}') -> Reply:
    """A model answering with a tool call (content null), as vLLM sends it under --enable-auto-tool-choice."""
    call = {"id": "chatcmpl-tool-1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return Reply(content=None, tool_calls=[call], finish_reason="tool_calls")


_ROLES = ("system", "developer", "user", "assistant", "tool")


def _image_refused(part: dict[str, Any]) -> str | None:
    """Why vLLM would refuse an ``image_url`` part, or None: a data URL's base64 must decode to a picture."""
    from PIL import Image, UnidentifiedImageError

    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        return f"image_url must hold a base64 data URL of an image, got {str(url)[:40]!r}"
    try:
        Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True))).verify()
    except (binascii.Error, UnidentifiedImageError, OSError) as e:
        return f"the image cannot be read: {e}"
    return None


def _part_refused(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
        return f"unknown content part {part!r}"[:200]
    if part["type"] == "text":
        return None if isinstance(part.get("text"), str) else "a text part needs its text"
    return _image_refused(part)


def request_refused(body: Any) -> str | None:
    """Why vLLM's OpenAI server would answer ``body`` 400 (its schema, SamplingParams' checks), or None."""
    if not isinstance(body, dict):
        return "Input should be a valid dictionary or object to extract fields from (a JSON object)"
    if not isinstance(body.get("model"), str):
        return "the request needs a model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "the request needs a non-empty list of messages"
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            return f"a message needs a role out of {_ROLES}"
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if (why := _part_refused(part)) is not None:
                    return why
        elif not isinstance(content, str):
            return "a message's content must be a string or a list of parts"
    for field_name in ("max_tokens", "max_completion_tokens"):
        value = body.get(field_name)
        if value is not None and (type(value) is not int or value < 1):
            return f"{field_name} must be at least 1, got {value!r}"
    temperature = body.get("temperature")
    if temperature is not None and (type(temperature) not in (int, float) or temperature < 0):
        return f"temperature must be non-negative, got {temperature!r}"
    return None


def not_json() -> Reply:
    return Reply(status=200, body=b"<html>this is not a chat completion</html>")


def _completion_tokens(reply: Reply, body: dict[str, Any]) -> int:
    """The answer's token count in ``usage``: a server that stopped at the token limit used all of it."""
    if reply.completion_tokens is not None:
        return reply.completion_tokens
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return limit if reply.finish_reason == "length" and isinstance(limit, int) else 20


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
                    self._send(404, b'{"detail":"Not Found"}', {})  # FastAPI's, as vLLM's server answers
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("Content-Type")
                try:
                    # FastAPI reads the body as JSON only without a Content-Type or under a JSON one
                    body = json.loads(raw) if kind is None or kind.split(";")[0].endswith("json") else raw
                except ValueError as e:
                    self._send(400, error_body(400, f"JSON decode error: {e}"), {})
                    return
                if (why := request_refused(body)) is not None:
                    self._send(400, error_body(400, why), {})
                    return
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
                    tokens = _completion_tokens(reply, body)
                    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
                    if reply.reasoning is not None:
                        message[reply.reasoning_field] = reply.reasoning
                    if reply.tool_calls is not None:
                        message["tool_calls"] = reply.tool_calls
                    payload = json.dumps({
                        "id": f"chatcmpl-{server.hits}", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                        "usage": {"prompt_tokens": reply.prompt_tokens,
                                  "completion_tokens": tokens,
                                  "total_tokens": reply.prompt_tokens + tokens},
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
