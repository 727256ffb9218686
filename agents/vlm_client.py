"""A small client for any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, llama.cpp's
llama-server, Ollama, LM Studio, OpenAI).

Standard library only (``urllib``). Followed: the OpenAI Chat Completions API reference (``POST
{base}/chat/completions`` with ``model``, ``messages`` whose user content is a list of ``{"type": "text"}``
and ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` parts, ``max_tokens``,
``temperature``; the answer in ``choices[0].message.content``, token counts in ``usage``), which vLLM's
and SGLang's OpenAI-compatible servers implement as well. A reasoning model's separate reasoning is kept
too, as ``reasoning_content`` (SGLang, llama-server, vLLM before ``reasoning``) or ``reasoning`` (vLLM,
Ollama), or as content parts of type ``thinking`` (Mistral's API), and so is OpenAI's ``refusal`` (the
model's reason for declining, sent in place of content).

Failures: HTTP 408, 409, 425, 429 and 5xx (but an error saying the model takes no images, as llama-server's
500 without --mmproj: ``ChatConfigError`` at once), timeouts, dropped connections, unreadable bodies and a
chat completion the server itself ended (``finish_reason`` "abort" or "error", ``SERVER_STOPPED``) are retried
with exponential backoff (``backoff · 2^attempt``, capped at ``max_backoff``, plus up to 25% jitter); a
``Retry-After`` header (seconds or an HTTP date; its name in any case) or OpenAI's ``retry-after-ms`` replaces
the backoff for that wait (but a wait of 0), capped at ``max_retry_after``. After ``max_retries`` retries the
call raises ``ChatError``; the ``GIVE_UPS_TO_STOP``-th such call in a row, with no answer between,
``ChatConfigError`` (the server has stopped answering), and so does one none of whose attempts connected
(refused, no route to the host, no connection within the timeout: the server has gone). Any other 4xx (a wrong
model name, URL or API key) raises ``ChatConfigError`` at once: retrying cannot fix it; but a 400/413/422 once
a chat completion has come (a cached one too) belongs to that one request (too long for the context, refused
by a filter): a ``ChatError``, and the run goes on. A redirect (3xx, not followed), OpenAI's 429
``insufficient_quota`` and, before the server has ever answered, a refused connection, an unknown host, a
failed TLS handshake or a reply that is not HTTP/1.x (another service's port) raise ``ChatConfigError`` too,
and so does an HTTP 200 whose body is not a chat completion before the server has sent one (a URL that is not
a chat-completions endpoint); once it has, such a body is a hiccup and retried. A JSON body that stops midway
(a connection dropped mid-answer; without Content-Length nothing else tells) is retried and said as such, even
on the first request; one that came whole (its Content-Length, or its last chunk) is broken as sent, no chat
completion.

A response body is read up to ``MAX_RESPONSE_BYTES`` (4 MiB): a longer one fails its request (before any
chat completion has come, ``ChatConfigError``: not a chat-completions URL), unread beyond the cap.

Replies are made safe text here: a lone UTF-16 surrogate (JSON ``"\\ud800"``, half of an emoji a server cut
short) becomes U+FFFD, and so does a byte the body's encoding does not allow (a reply in Latin-1), so the
cache, decision logs and reports can always be written as UTF-8.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import email.utils
import errno
import http.client
import io
import ipaddress
import json
import math
import os
import random
import re
import shlex
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.cli import (
    api_key_arg,
    api_key_env_arg,
    nonneg_int,
    not_utf8,
    one_line,
    path_arg,
    positive_int,
    safe_text,
)
from agents.config import any_case, flag_of
from agents.vlm_cache import ResponseCache, cache_key, check_cache_dir, image_digest

RETRY_STATUS = frozenset({408, 409, 425, 429})  # plus every 5xx
# A chat completion's finish_reason when the server, not the model, ended the answer: vLLM and SGLang send
# "abort" (HTTP 200) for the requests in flight when shut down or paused (vLLM's default --shutdown-timeout
# 0, pause_generation's default mode); "error" is vLLM's request-level failure, which it answers 500, but
# another server may pass it on. Retried as a 5xx is: it is no answer of the model's, and is not cached.
SERVER_STOPPED = frozenset({"abort", "error"})
# A socket timeout must fit the platform's clock (2**63 ns, 292 years; 2**31 s with a 32-bit time_t):
# past it the first request failed with an OverflowError traceback. 1e9 s (32 years) fits both.
MAX_TIMEOUT_S = 1e9
MAX_RESPONSE_BYTES = 4 << 20  # a chat completion is text (a few KB; 1M tokens of it ~4 MB): no more is read
# Requests given up after their retries, one after another with no answer between, that stop a run: a
# server gone mid-run cost each later decision the whole backoff (~35 s at the defaults) and played its
# fallback, for hours where an episode never ends. A flaky server that answers now and then never gets
# here: each give-up takes every retry failing, and any answer starts the count again.
GIVE_UPS_TO_STOP = 10
# A connect that found no route to the host: its machine or network is gone.
_UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})
IMAGE_DETAILS = (None, "low", "high", "auto")  # OpenAI's image_url.detail; None: the part carries none


_CHAT_PATH = "/chat/completions"  # added to a --vlm base URL


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follow no redirect: urllib would resend a POST as a body-less GET (answered 405, or a web page)
    and forward the Authorization header to any host; the 3xx comes back as the status instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _excerpt(raw: bytes, limit: int = 160) -> str:
    """The start of a response body for an error message, on one line."""
    if not raw.strip():
        return "an empty body"
    text = repr(" ".join(raw[:limit].decode("utf-8", "replace").split()))  # "replace" leaves no surrogate
    return text + (" …" if len(raw) > limit else "")


class ChatError(RuntimeError):
    """A request that failed after every retry (the caller may fall back and go on)."""


class ChatCancelled(ChatError):
    """A request not sent because the run is stopping (``ChatClient.cancel``): not the model's failure."""


class ChatConfigError(ChatError):
    """A request the server refuses for good (HTTP 4xx): the user must change the model, URL or key."""


class _TooLarge(Exception):
    """A response body over the client's ``max_response_bytes``: not read further."""


def _no_such_server(reason: Any) -> bool:
    """Nothing listens there (refused) or the host name does not exist: retrying cannot help. Resets,
    cut-short replies and a resolver's temporary failure can pass, so they are retried."""
    if isinstance(reason, ConnectionRefusedError):
        return True
    return isinstance(reason, socket.gaierror) and reason.errno in (socket.EAI_NONAME,
                                                                     getattr(socket, "EAI_NODATA", None))


def _timed_out_sending(reason: BaseException) -> bool:
    """Whether a timeout urllib wrapped in a URLError came while the request was sent, the connection made:
    urllib wraps a connect's timeout and a send's alike. Told apart by where it was raised: http.client
    connects from inside its ``send``, so a connect's has a ``connect`` frame below ``send`` (a TLS
    handshake's too), a send's none. Read only on a failure: no request pays for it."""
    names = set()
    tb = reason.__traceback__
    while tb is not None:
        names.add(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return "send" in names and "connect" not in names


def _no_connection(error: BaseException) -> bool:
    """The attempt never reached a server: refused, no route to the host, no name, or (urllib wraps what
    fails while connecting and sending in a URLError) no connection within the timeout. A bare timeout is
    an answer too late, one while sending a request the server took and never read, and a reset or
    broken pipe a server that took the connection."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError):
        return isinstance(error, urllib.error.URLError) and not _timed_out_sending(reason)
    return (isinstance(reason, (ConnectionRefusedError, socket.gaierror))
            or (isinstance(reason, OSError) and reason.errno in _UNREACHABLE))


def _tls_refused(reason: Any) -> bool:
    """The TLS handshake itself failed (a plain-http server behind an https URL, a certificate that does not
    verify): retrying cannot help. A connection closed mid-handshake (``SSLEOFError``) can pass."""
    return isinstance(reason, ssl.SSLError) and not isinstance(reason, ssl.SSLEOFError)


def _not_http(reason: Any) -> bool:
    """The server's reply began with no HTTP/1.x status line (another service's port, such as SSH's
    banner): what answers there speaks no HTTP, which retrying cannot change. A connection closed before
    any byte (``RemoteDisconnected``, a ``BadStatusLine`` too) can pass, as resets do."""
    return (isinstance(reason, (http.client.BadStatusLine, http.client.UnknownProtocol))
            and not isinstance(reason, http.client.RemoteDisconnected))


def _connection_failure(url: str, reason: BaseException, first: bool) -> str:
    """What went wrong with a request whose connection failed, on one line: the server closed or dropped
    it, answered with no HTTP, or could not be reached at all. ``first``: nothing has answered yet, where
    a close or drop over http:// may be a TLS server's (Python's ``ssl`` resets a plain request)."""
    tls = "an https:// server given an http:// URL does so too" if first and url.startswith("http://") else ""
    if isinstance(reason, http.client.RemoteDisconnected):
        return f"{url} closed the connection without an answer" + (f" ({tls})" if tls else "")
    if isinstance(reason, http.client.BadStatusLine):
        line = reason.line.encode("latin-1", "replace")  # http.client decoded the bytes as Latin-1
        shown = _excerpt(line) if line.strip() else "a blank line"
        return f"{url} answered with no HTTP status line ({shown})"
    if isinstance(reason, http.client.UnknownProtocol):
        return f"{url} answered in a protocol that is not HTTP/1.x ({one_line(str(reason))})"
    if isinstance(reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return f"{url} dropped the connection ({one_line(str(reason))}" + (f"; {tls})" if tls else ")")
    return f"cannot reach {url}: {one_line(str(reason))}"


def _without_secrets(url: str) -> str:
    """``url`` as an error message may show it: a query or fragment (Gemini's ``?key=``) and a user name
    and password cut to ``…``, as they may hold a key, which terminals' and CI's logs would keep."""
    cut = re.search(r"[?#]", url)
    base = re.sub(r"^([^/]*//)[^/]*@", r"\1…@", url[:cut.start()] if cut else url)
    return base + (f"{cut.group()}…" if cut else "")


def _proxy_note(url: str) -> str:
    """For an error message, where urllib sends ``url``'s requests through a proxy (``$http_proxy`` or
    ``$https_proxy``, unless ``$no_proxy`` names the host): that proxy, and the ``$no_proxy`` entry that
    bypasses it as urllib matches entries (no CIDR range; an IPv6 host in brackets). A cluster's proxy
    cannot reach a server on this machine's own 127.0.0.1, and its refusal or error page was said as the
    server's. "" where no proxy is used."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc):  # as urllib's ProxyHandler decides
        return ""
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    names = [f"{parts.scheme}_proxy", "no_proxy"]  # the variables read, lower case first as urllib does
    var, no = (n if n in os.environ else next((k for k in os.environ if k.lower() == n), n) for n in names)
    shown = re.sub(r"^([^/]*//)?[^/]*@", r"\1…@", proxy)  # its password cut, "user:pw@host:3128" too
    via = f"(sent through the proxy {one_line(_without_secrets(shown))} that ${var} names"
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:  # a host name
        loopback = False
    if loopback:
        return (f"{via}, which cannot reach this machine's own {host} unless it runs here: "
                f"add {host} to ${no})")
    return f"{via}: if the server is not reached through it, add {host} to ${no})"


def _check_url(url: str) -> None:
    """ValueError unless ``url`` can be sent to as it is: urllib would otherwise fail on every request (a
    bad port or host, a space), which a run retries with backoff on each decision. A key in the URL is
    refused without repeating it: the endpoint is written into reports."""
    shown = _without_secrets(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"the --vlm URL {shown!r} contains a space or control character")
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # ValueError for a port that is not a number in 0..65535
    except ValueError as e:
        raise ValueError(f"the --vlm URL {shown!r} is malformed: {e}") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("the --vlm URL holds a user name or password: give the API key in an environment "
                         "variable (--api-key-env, default OPENAI_API_KEY) instead; the URL is written into "
                         "reports")
    if not parts.hostname:
        raise ValueError(f"the --vlm URL {shown!r} names no host")
    try:  # socket and http.client send a host IDNA-encoded: a UnicodeError (no ChatError) at each request
        parts.hostname.encode("idna")
    except UnicodeError as e:
        why = str(e.__cause__ or e)
        what = ("has an empty part (two dots in a row, or one at its start) or a part over 63 characters"
                if "label" in why else f"cannot be IDNA-encoded ({why})")
        raise ValueError(f"the --vlm URL {shown!r} has a host name no request can go to: "
                         f"{parts.hostname!r} {what}") from None
    if not parts.path.isascii():  # a host is sent IDNA-encoded, but a path only as ASCII
        encoded = parts._replace(path=urllib.parse.quote(parts.path, safe="/%")).geturl()
        raise ValueError(f"the --vlm URL {shown!r} has a path that is not ASCII: give it percent-encoded, "
                         f"{_without_secrets(encoded)}")
    if "?" in url or "#" in url:  # an empty one too: urlsplit gives "", but the path added after it is lost
        raise ValueError(f"the --vlm URL {shown!r} has a query or fragment ('?' or '#'): give the base URL "
                         "(e.g. http://localhost:8000/v1); /chat/completions is added to its path")


@dataclass(frozen=True)
class Endpoint:
    model: str
    base_url: str

    @classmethod
    def parse(cls, spec: str) -> Endpoint:
        """``MODEL@URL``, e.g. ``qwen2.5-vl-7b@http://localhost:8000/v1``."""
        for scheme in ("@http://", "@https://"):
            k = spec.lower().find(scheme)
            if k > 0:
                # A byte that is no UTF-8 on argv arrives as a lone surrogate, which no request, cache entry
                # or report can encode: the first answer's cache write ended the run with a traceback.
                if not_utf8(spec[:k]):
                    raise ValueError(f"the --vlm model name {safe_text(spec[:k])!r} is not valid UTF-8 "
                                     "(\ufffd marks each byte that is not): give the name the server lists")
                # A scheme is case-insensitive (RFC 3986); written lowercase, one server has one cache key.
                url = scheme[1:] + spec[k + len(scheme):]
                # A base URL's slash is cut; the chat URL's own kept: a server that redirects to it
                # (FastAPI's redirect_slashes) is reached there only, and redirected again without it.
                url = url if url.endswith(_CHAT_PATH + "/") else url.rstrip("/")
                _check_url(url)
                return cls(spec[:k], url)
        raise ValueError(f"--vlm expects MODEL@URL (e.g. qwen2.5-vl-7b@http://localhost:8000/v1), "
                         f"got {_without_secrets(spec)!r}")  # a URL without its model may hold a key too

    @property
    def chat_url(self) -> str:
        if self.base_url.endswith((_CHAT_PATH, _CHAT_PATH + "/")):
            return self.base_url
        return f"{self.base_url}{_CHAT_PATH}"

    def __str__(self) -> str:
        return f"{self.model}@{self.base_url}"


@dataclass
class ChatReply:
    content: str
    reasoning: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float  # of the request that produced the answer (kept in the cache too)
    cached: bool
    finish_reason: str | None = None
    refusal: str | None = None  # OpenAI's message.refusal: why the model declined (content is then empty)


@dataclass
class ClientStats:
    """Counters shared by every thread using one client."""

    calls: int = 0  # complete() calls
    http_requests: int = 0  # requests actually sent (retries included)
    cache_hits: int = 0
    retries: int = 0
    timeouts: int = 0
    failures: int = 0  # calls that raised ChatError after their retries
    status_counts: dict[str, int] = field(default_factory=dict)  # HTTP status (or "timeout") -> count
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def count_status(self, status: str) -> None:
        with self._lock:
            self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": self.calls, "http_requests": self.http_requests, "cache_hits": self.cache_hits,
                    "retries": self.retries, "timeouts": self.timeouts, "failures": self.failures,
                    "status_counts": dict(self.status_counts)}


def png_data_url(image: np.ndarray) -> str:
    """An RGB uint8 (H, W, 3) array as a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (delay seconds or an HTTP date) in seconds, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year or hour past a C long
        return None
    if when.tzinfo is None:  # "-0000" or no zone: UTC (an HTTP date always is), not the machine's local time
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """Thread-safe: one client serves every episode's thread; each call is one HTTP request (or none)."""

    def __init__(self, endpoint: Endpoint | str, api_key: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 120.0, max_retries: int = 5,
                 backoff: float = 1.0, max_backoff: float = 60.0, max_retry_after: float = 300.0,
                 max_tokens: int = 1024, temperature: float = 0.0, extra_body: dict[str, Any] | None = None,
                 cache: ResponseCache | None = None, sleep: Any = None, image_detail: str | None = None
                 ) -> None:
        self.endpoint = Endpoint.parse(endpoint) if isinstance(endpoint, str) else endpoint
        self.api_key_env = api_key_env if api_key is None else None  # named in a 401's message
        if api_key is None and api_key_env:
            api_key = os.environ.get(api_key_env) or None  # a local server usually needs none
        if api_key and not (api_key.isascii() and api_key.isprintable()):
            # http.client would refuse it at the first request, printing the key in its message.
            source = f"${api_key_env}" if self.api_key_env else "the API key given"
            raise ValueError(f"{source} holds a character no HTTP header can carry (a line break, a curly "
                             "quote): set it to the key alone")
        self.api_key = api_key
        if not 0 < timeout <= MAX_TIMEOUT_S or max_retries < 0 or backoff < 0:  # NaN fails it too
            raise ValueError(f"timeout must be a number > 0 and at most {MAX_TIMEOUT_S:g}, max_retries and "
                             "backoff >= 0")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        # Request fields besides model and messages; extra_body adds or overrides them, and a None value
        # drops one (OpenAI's reasoning models refuse max_tokens and temperature 0).
        self.max_tokens = int(max_tokens)  # --max-tokens, named in the hint for a model refusing the field
        settings = {"max_tokens": self.max_tokens, "temperature": float(temperature), **(extra_body or {})}
        self.settings = {k: v for k, v in settings.items() if v is not None}
        if image_detail not in IMAGE_DETAILS:
            raise ValueError(f"image_detail must be one of {', '.join(map(str, IMAGE_DETAILS))}, got "
                             f"{image_detail!r}")
        self.image_detail = image_detail  # every image part's "detail"; None: sent without one
        self.cache = cache
        self.stats = ClientStats()
        self._stopped = threading.Event()
        # Backoff waits end early once cancel() is called (a test may pass its own sleep instead).
        self._sleep = sleep if sleep is not None else self._stopped.wait
        self._reached = False  # has the server answered at all? Until it has, no connection is retried
        self._understood = False  # has it sent a chat completion (a cached one too)? Until then a 200 that
        # is none, a 400 or a request given up after its retries is fatal
        self._give_ups = 0  # calls given up after their retries since the server last answered
        self._give_ups_lock = threading.Lock()
        self.max_response_bytes = MAX_RESPONSE_BYTES  # a body longer than this is not read (memory)

    # ------------------------------------------------------------------ public
    def cancel(self) -> None:
        """Stop for good: no new request is sent and no retry waits (each such call raises ``ChatCancelled``).
        For a run that is being abandoned (Ctrl-C, a fatal error): a request already on the wire still
        finishes, so its answer, paid for, reaches the cache."""
        self._stopped.set()

    @property
    def cancelled(self) -> bool:
        return self._stopped.is_set()

    def resume(self) -> None:
        """Undo ``cancel`` for a new run with the same client (a notebook re-running after Ctrl-C)."""
        self._stopped.clear()

    def complete(self, prompt: str, images: list[np.ndarray]) -> ChatReply:
        """Ask ``prompt`` about ``images`` (RGB uint8 arrays); served from the cache when possible."""
        self.stats.add(calls=1)
        key = None
        if self.cache is not None:
            # Keyed on everything that defines the answer: the endpoint (two servers may serve different
            # models under one name) and the request body exactly as sent, each image by its pixel digest.
            key = cache_key(self.endpoint.chat_url,
                            self._body(prompt, ["sha256:" + image_digest(im) for im in images]))
            hit = self.cache.get(key) or {}
            finish = _text(hit.get("finish_reason"))
            # An answer the server stopped itself, cached before those were retried, is asked for again.
            if isinstance(hit.get("content"), str) and finish not in SERVER_STOPPED:
                self.stats.add(cache_hits=1)
                # A chat completion this endpoint sent (the key holds its URL and model): on a re-run the
                # first request sent is one that failed before, and fails only itself again.
                self._understood = True
                return ChatReply(safe_text(hit["content"]), _text(hit.get("reasoning")),
                                 _count(hit.get("prompt_tokens")), _count(hit.get("completion_tokens")),
                                 _seconds(hit.get("latency_s")), cached=True,
                                 finish_reason=finish,
                                 refusal=_text(hit.get("refusal")))
        body = self._body(prompt, [png_data_url(im) for im in images])
        try:
            reply = self._post_with_retries(json.dumps(body).encode("utf-8"))
        except ChatCancelled:  # not sent at all: no failed call
            raise
        except ChatError as e:
            self.stats.add(failures=1)
            if isinstance(e, ChatConfigError) and (note := _proxy_note(self.endpoint.chat_url)):
                raise ChatConfigError(f"{e} {note}") from None  # the proxy's failure reads as the server's
            raise
        if self.cache is not None and key is not None:
            self.cache.put(key, {"model": self.endpoint.model, "content": reply.content,
                                 "reasoning": reply.reasoning, "prompt_tokens": reply.prompt_tokens,
                                 "completion_tokens": reply.completion_tokens, "latency_s": reply.latency_s,
                                 "finish_reason": reply.finish_reason, "refusal": reply.refusal})
        return reply

    def _body(self, prompt: str, image_urls: list[str]) -> dict[str, Any]:
        detail = {"detail": self.image_detail} if self.image_detail else {}
        content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url, **detail}}
                                         for url in image_urls]
        content.append({"type": "text", "text": prompt})
        return {"model": self.endpoint.model, "messages": [{"role": "user", "content": content}],
                **self.settings}

    # ------------------------------------------------------------------ HTTP
    def _post_with_retries(self, data: bytes) -> ChatReply:
        last = "no attempt"
        connected = False  # has any attempt of this call reached the server?
        for attempt in range(self.max_retries + 1):
            if self._stopped.is_set():  # the run is being abandoned: send nothing more
                raise ChatCancelled(f"{self.endpoint}: cancelled (the run is stopping)")
            if attempt:
                self.stats.add(retries=1)
            wait: float | None = None
            t0 = time.perf_counter()
            try:
                status, headers, raw = self._post(data)
            except _TooLarge:
                self._reached = connected = True
                self.stats.count_status("too large")
                what = (f"{self.endpoint.chat_url} sent a response over {self.max_response_bytes:,} bytes, "
                        "not read further")
                if not self._understood:  # a download or another API, not a chat-completions endpoint
                    raise ChatConfigError(f"{what} (is it an OpenAI-compatible chat-completions URL?)"
                                          ) from None
                raise ChatError(f"{what} (a chat completion is text, far smaller: a model looping up to a "
                                "huge --max-tokens?)") from None
            except (OSError, http.client.HTTPException) as e:  # timeouts, refused, dropped, cut short
                connected = connected or not _no_connection(e)
                reason = getattr(e, "reason", e)
                if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                    self.stats.add(timeouts=1)
                    self.stats.count_status("timeout")
                    # urllib wraps a connect that timed out in a URLError (a host dropping packets, a wrong
                    # address), and a send that did too; a request taken but answered too late is a bare
                    # TimeoutError.
                    waited = "connection" if isinstance(e, urllib.error.URLError) else "answer"
                    last = f"no {waited} within {self.timeout:g} s (--timeout)"
                    if waited == "connection" and _timed_out_sending(reason):
                        last = (f"the request could not all be sent within {self.timeout:g} s (--timeout): "
                                "the server took the connection but did not read it (stuck, or the upload "
                                "is slower than that)")
                elif isinstance(reason, http.client.IncompleteRead):
                    self.stats.count_status("connection")
                    last = (f"the answer from {self.endpoint.chat_url} was cut short (the connection closed "
                            "mid-body)")
                else:
                    self.stats.count_status("connection")
                    last = _connection_failure(self.endpoint.chat_url, reason, first=not self._reached)
                    if not self._reached and _not_http(reason):  # another service's port, not a hiccup
                        raise ChatConfigError(f"{last}: what listens there is no HTTP/1.x server; check "
                                              "the URL's port and scheme (http:// or https://)") from None
                    if not self._reached and _no_such_server(reason):  # a wrong URL, not a hiccup
                        raise ChatConfigError(f"{last} (is the server running? check the URL)") from None
                    if not self._reached and _tls_refused(reason):
                        raise ChatConfigError(f"{last} (the TLS handshake failed: an https:// URL for a "
                                              "plain http:// server, or a certificate that does not "
                                              "verify; check the URL)") from None
            else:
                self._reached = connected = True
                latency = time.perf_counter() - t0
                self.stats.count_status(str(status))
                if status == 200:
                    try:
                        reply = self._parse(raw, latency)
                    except ValueError as e:
                        error = _error_in_body(raw)  # some proxies and routers answer 200 {"error": ...}
                        last = (f"HTTP 200 carrying an error: {error}" if error is not None else
                                f"HTTP 200 but not a chat completion ({e}): {_excerpt(raw)}")
                        # Read to the close, a body that stops midway was dropped, not a wrong URL; one that
                        # came whole (its Content-Length, or its last chunk) is broken JSON as sent.
                        if _cut_short(raw) and not _framed(headers):
                            last = (f"HTTP 200 cut short: the connection closed after {len(raw)} bytes, "
                                    f"mid-answer: {_excerpt(raw)}")
                        elif not self._understood and error is not None:
                            raise ChatConfigError(f"{self.endpoint.chat_url} answered {last} (the server or "
                                                  "a proxy in front of it failed the request: check the "
                                                  "model name and the server's log)") from None
                        elif not self._understood:  # a wrong URL (a web page, another API), not a hiccup
                            raise ChatConfigError(f"{self.endpoint.chat_url} answered {last} (is it an "
                                                  "OpenAI-compatible chat-completions URL?)") from None
                    else:
                        self._understood = True
                        if reply.finish_reason not in SERVER_STOPPED:
                            self._answered()
                            return reply
                        last = (f"HTTP 200 but the server stopped the answer itself (finish_reason "
                                f"{reply.finish_reason!r}, as vLLM and SGLang end the requests in flight "
                                "when shut down or paused)")
                elif status == 429 and _out_of_quota(raw):  # out of credits: no wait brings them back
                    raise ChatConfigError(f"{self.endpoint.chat_url} refused the request with HTTP 429: "
                                          f"{_error_message(raw)} (the account is out of quota: add credits "
                                          "or use another key)")
                elif status >= 400 and _takes_no_images(raw):  # no retry gives the model a vision encoder
                    raise ChatConfigError(
                        f"{self.endpoint.chat_url} refused the request with HTTP {status}: "
                        f"{_error_message(raw)} (the model {self.endpoint.model!r} served there takes no "
                        "images: serve a vision model; llama-server needs the model's projector file "
                        "too, --mmproj FILE)")
                elif status in RETRY_STATUS or status >= 500:
                    last = f"HTTP {status}: {_error_message(raw)}"
                    wait = _retry_wait(headers)
                elif 300 <= status < 400:
                    # Its query and user name may hold a key, as the --vlm URL's own may: cut the same way.
                    where = headers.get("location")
                    if where:  # a relative one ("/v1/chat/completions/") as the URL --vlm takes
                        where = urllib.parse.urljoin(self.endpoint.chat_url, where)
                    shown = one_line(_without_secrets(where)) if where else "no address"
                    raise ChatConfigError(
                        f"{self.endpoint.chat_url} redirects (HTTP {status}) to {shown}: give the URL it "
                        "redirects to with --vlm (a redirected request is not followed: it would arrive "
                        "without its body)")
                elif status in (400, 413, 422) and self._understood:
                    # The server has sent chat completions: this request itself was refused (too long
                    # for the context, a frame a moderation filter rejects); the run goes on without it.
                    self._answered()  # an answer too: the server has not stopped answering
                    raise ChatError(f"{self.endpoint}: HTTP {status} for this request: {_error_message(raw)}")
                else:
                    raise ChatConfigError(
                        f"{self.endpoint.chat_url} refused the request with HTTP {status}: "
                        f"{_error_message(raw)} ({self._what_to_check(status, raw)})")
            if attempt == self.max_retries:
                break
            if not wait:  # none asked for, or 0 (a date past, "0"): our backoff, as the OpenAI SDK does
                # The exponent is capped: 2 ** 1024 overflows a float (an OverflowError, not a ChatError, for
                # --retries over 1024); 2 ** 60 is past any max_backoff already.
                backoff = self.backoff * 2 ** min(attempt, 60)
                wait = min(self.max_backoff, backoff) * (1 + 0.25 * random.random())
            else:
                wait = min(wait, self.max_retry_after)
            self._sleep(wait)
        attempts = self.max_retries + 1
        gave_up = f"{self.endpoint}: gave up after {attempts} attempt{'s' * (attempts > 1)}; last: {last}"
        # The last attempt refused with 429: up and answering, only refusing more requests than it allows.
        # Fewer at once or longer waits help, where "is the server up?" or "has stopped answering" pointed
        # elsewhere.
        limited = last.startswith("HTTP 429:")
        rate = ("the server is limiting the request rate: lower --concurrency, or raise --retries to wait "
                "longer" if limited else "")
        if not self._understood:  # never a chat completion: a server down or still loading, not a hiccup
            # Going on played every decision's fallback, a whole run, and reported the VLM 100% invalid.
            if limited:
                raise ChatConfigError(f"{gave_up} ({rate}; no chat completion has come from it yet)")
            if last.startswith("no answer within"):
                # It took the request, so it is up: only slower than --timeout (a big model, a long think).
                raise ChatConfigError(f"{gave_up} (no chat completion has come from it yet: a server slower "
                                      "than that, such as a large model or a long reasoning, needs more: "
                                      "raise --timeout)")
            raise ChatConfigError(f"{gave_up} (no chat completion has come from it yet: is the server up "
                                  "and done loading the model? check its log)")
        cached = ("the answers that came are cached, so the same command run again once it is back asks "
                  "only for the rest" if self.cache is not None else
                  "without a cache (--no-cache) a run again asks every question anew")
        if not connected:
            # Every attempt, over the whole backoff (~35 s at the defaults), found nothing listening or no
            # way to the host: the server is gone (a restart loads its model for minutes). Waiting out nine
            # more give-ups cost ~5 minutes on one episode (~2 hours where connecting timed out), each
            # decision playing its fallback.
            raise ChatConfigError(f"{gave_up} (no attempt could connect: the server has gone away or its "
                                  "host cannot be reached, so the run stops here rather than play every "
                                  f"later decision's fallback; {cached}; a higher --retries waits longer "
                                  "for a server being restarted)")
        with self._give_ups_lock:
            self._give_ups += 1
            in_a_row = self._give_ups
        if in_a_row >= GIVE_UPS_TO_STOP:
            why = rate or "the server has stopped answering"
            raise ChatConfigError(f"{gave_up} ({in_a_row} requests in a row given up after every retry: "
                                  f"{why}, so the run stops here rather than play every later decision's "
                                  f"fallback; {cached})")
        raise ChatError(gave_up)

    def _answered(self) -> None:
        """The server answered a request: the count of give-ups in a row starts again."""
        with self._give_ups_lock:
            self._give_ups = 0

    def _what_to_check(self, status: int, raw: bytes) -> str:
        """The setting a refused request points at: the key for 401/403 (naming the variable it is read
        from, and whether one was sent at all), the --extra-body that fixes a field OpenAI's reasoning
        models refuse, the request's settings for another malformed request (400, 413, 422), else the
        model name, the URL and the key."""
        if status in (401, 403):
            if not self.api_key:  # _post sends no Authorization header for a missing or empty key
                if not self.api_key_env:
                    return "no API key was sent (--api-key-env names no variable): name the one that holds it"
                return (f"no API key was sent: ${self.api_key_env} is unset or empty; set it, or name the "
                        "variable that holds the key with --api-key-env")
            source = f"the key from ${self.api_key_env}" if self.api_key_env else "the API key given"
            return f"{source} was refused: check it, or name another variable with --api-key-env"
        if status == 400 and _refused_field(raw) in ("max_tokens", "temperature"):
            # OpenAI's o-series and gpt-5 take max_completion_tokens, and no temperature but their default:
            # no --max-tokens or --temperature fixes that, only leaving the field out.
            budget = self.settings.get("max_completion_tokens", self.max_tokens)
            fix = {"max_tokens": None, "max_completion_tokens": budget, "temperature": None}
            # Pasted, it replaces the --extra-body given: that one's other fields (reasoning_effort) go along.
            fix.update((k, v) for k, v in self.settings.items() if k not in fix)
            return ("the model takes neither max_tokens nor a temperature but its default, as OpenAI's "
                    f"reasoning models: pass --extra-body {shlex.quote(json.dumps(fix))}")
        if status in (400, 413, 422):  # the request itself: too long for the context, images refused
            # --temperature has no upper bound here: servers differ (OpenAI's is 2, vLLM has none).
            return (f"check the model name {self.endpoint.model!r} and that it takes images, --max-tokens "
                    "(prompt and answer must fit its context), --temperature and --extra-body")
        if status == 404 and not urllib.parse.urlsplit(self.endpoint.base_url).path:
            # vLLM, SGLang, llama-server, Ollama, LM Studio and OpenAI all answer under /v1: a bare
            # host:port is the usual slip, which "check the URL" left to be found.
            return (f"the URL has no path; give {self.endpoint.base_url}/v1, where OpenAI-compatible servers "
                    f"answer, else check the model name {self.endpoint.model!r} and the API key")
        return f"check the model name {self.endpoint.model!r}, the URL and the API key"

    def _post(self, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body): header names are case-insensitive, and
        servers behind uvicorn, HTTP/2 proxies or OpenAI's front send ``retry-after`` in lower case."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.endpoint.chat_url, data=data, headers=headers, method="POST")
        self.stats.add(http_requests=1)
        deadline = time.monotonic() + self.timeout
        try:
            with _OPENER.open(req, timeout=self.timeout) as resp:
                status, got = resp.status, _lower_keys(resp.headers.items())
                raw = _read_until(resp, deadline, self.max_response_bytes)
        except urllib.error.HTTPError as e:
            with e:
                status, got = e.code, _lower_keys(e.headers.items()) if e.headers else {}
                raw = _read_until(e, deadline, self.max_response_bytes)
        return status, got, _unzipped(raw, got.get("content-encoding"), self.max_response_bytes)

    @staticmethod
    def _parse(raw: bytes, latency: float) -> ChatReply:
        """The reply in a chat-completion body; ValueError saying what is missing when it is none. A
        message without usable content is the model's (empty) answer, not an error."""
        try:
            data = _json(raw)
        except ValueError:
            raise ValueError("not JSON") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ValueError("no choices")
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            raise ValueError("choices[0] has no message")
        content = message.get("content")
        refusal = message.get("refusal")
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(content, list):  # some servers answer in content parts (a refusal as a part of its own)
            parts = [p for p in content if isinstance(p, dict)]
            content = "".join(t for t in (p.get("text") for p in parts) if isinstance(t, str))
            if not refusal:
                refusal = "".join(p["refusal"] for p in parts if p.get("type") == "refusal"
                                  and isinstance(p.get("refusal"), str))
            reasoning = reasoning or _thinking_text(parts)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        finish = choice.get("finish_reason")
        return ChatReply(content=_text(content) or "", reasoning=_text(reasoning),
                         prompt_tokens=_count(usage.get("prompt_tokens")),
                         completion_tokens=_count(usage.get("completion_tokens")),
                         latency_s=latency, cached=False, finish_reason=_text(finish),
                         refusal=_text(refusal) or None)


def _thinking_text(parts: list[dict[str, Any]]) -> str | None:
    """The reasoning in content parts of its own, as Mistral's API sends a Magistral model's: ``{"type":
    "thinking", "thinking": [{"type": "text", "text": ...}, ...]}``; None where there is none."""
    chunks = [c for p in parts if p.get("type") == "thinking" and isinstance(p.get("thinking"), list)
              for c in p["thinking"] if isinstance(c, dict)]
    return "".join(t for t in (c.get("text") for c in chunks) if isinstance(t, str)) or None


def _read_until(resp: Any, deadline: float, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body, or TimeoutError once ``deadline`` (time.monotonic) passes: the socket timeout bounds
    each read only, so a server (or proxy) that trickles keep-alive whitespace before a slow answer
    would otherwise hold a request far past --timeout. ``read1`` returns what has come, not a full
    buffer, so the deadline is checked as bytes arrive. ``_TooLarge`` once the body (or its announced
    Content-Length) passes ``limit`` bytes: a fast server could otherwise fill memory before the deadline.
    ``IncompleteRead`` for a body cut short, by a close or a reset (no TLS server: an HTTP reply came)."""
    read = getattr(resp, "read1", None) or resp.read
    length = getattr(resp, "length", None)
    if isinstance(length, int) and length > limit:
        raise _TooLarge
    chunks = []
    size = 0
    try:
        while chunk := read(1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            if getattr(resp, "length", None) == 0:  # all of a Content-Length body is in: it came in time
                break
            if time.monotonic() > deadline:
                raise TimeoutError("timed out (the whole answer took longer than --timeout)")
    except ConnectionError as e:  # a reset after the status line came: an answer cut short, as a close is
        raise http.client.IncompleteRead(b"".join(chunks)) from e
    missing = getattr(resp, "length", None)
    if isinstance(missing, int) and missing > 0:  # read1 returns b"" where read would raise
        raise http.client.IncompleteRead(b"".join(chunks), missing)
    return b"".join(chunks)


def _unzipped(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The body a proxy gzipped though the request asked for no encoding, unpacked (``_TooLarge`` past
    ``limit``, as a plain body: a small gzip can unpack to gigabytes); any other as it came. One that is
    no gzip after all stays as it came, and is shown as no chat completion."""
    if (encoding or "").strip().lower() not in ("gzip", "x-gzip"):
        return raw
    try:
        body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, limit + 1)
    except zlib.error:
        return raw
    if len(body) > limit:
        raise _TooLarge
    return body


def _json(raw: bytes) -> Any:
    """A response body read as JSON; ValueError when it is none. Bytes its encoding does not allow (Latin-1
    from a server or proxy, a token cut mid-character) become U+FFFD, as lone surrogates do, rather than
    losing the answer; a body nested too deeply for the reader (RecursionError) is no JSON either, not a
    crash of the run."""
    try:
        return json.loads(raw.decode(json.detect_encoding(raw), "replace"))
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _cut_short(raw: bytes) -> bool:
    """Whether ``raw`` is a JSON object that stops before it is complete: a body the connection dropped
    midway, which a reply without Content-Length (read to the connection's close) does not otherwise tell."""
    text = raw.decode("utf-8", "replace").strip()
    if not text.startswith("{"):
        return False
    try:
        json.loads(text)
    except RecursionError:  # nested too deeply to read: no chat completion, cut short or whole
        return False
    except json.JSONDecodeError as e:
        rest = text[e.pos:]
        return (e.pos >= len(text) or e.msg.startswith("Unterminated string")
                or any(word.startswith(rest) for word in ("true", "false", "null")))
    return False


def _framed(headers: dict[str, str]) -> bool:
    """Whether a body's end is told by its headers (a Content-Length, or chunks): one read whole is then
    all the server sent; a cut one raised ``IncompleteRead``. Only a body read to the close is not."""
    return "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()


def _lower_keys(items: Any) -> dict[str, str]:
    return {str(k).lower(): v for k, v in items}


def _retry_wait(headers: dict[str, str]) -> float | None:
    """The wait a refusing server asks for (headers with lower-case names): OpenAI's ``retry-after-ms``
    (milliseconds, more precise, so preferred as the OpenAI SDK does), else the standard ``retry-after``."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if 0 <= value < math.inf:
                return value
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


def _text(value: Any) -> str | None:
    """A string field of a reply or a cache entry, made safe (``safe_text``); None when it is no string."""
    return safe_text(value) if isinstance(value, str) else None


def _count(value: Any) -> int:
    """A token count from ``usage``; a missing or odd one counts 0 rather than losing the answer."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def _seconds(value: Any) -> float:
    """A cached latency; a missing or odd one (a hand-edited entry) reads 0 rather than failing the hit."""
    try:
        seconds = float(value or 0.0)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


def _error_body(raw: bytes) -> dict[str, Any]:
    """An error body's JSON object, a list's first item being one (Gemini's OpenAI-compatible endpoint wraps
    its error so); {} for any other body. The one parse every error reader below starts from."""
    try:
        data = _json(raw)
    except ValueError:
        return {}
    if isinstance(data, list) and data:
        data = data[0]
    return data if isinstance(data, dict) else {}


def _error_object(raw: bytes) -> dict[str, Any]:
    """The ``"error"`` object of an error body (OpenAI's ``message``, ``type``, ``param``, ``code``); {} for
    any other body."""
    err = _error_body(raw).get("error")
    return err if isinstance(err, dict) else {}


def _out_of_quota(raw: bytes) -> bool:
    """OpenAI's 429 for an account out of credits (``"code"``/``"type": "insufficient_quota"``), which no
    retry can fix, unlike a rate limit's 429."""
    err = _error_object(raw)
    return "insufficient_quota" in (err.get("code"), err.get("type"))


def _refused_field(raw: bytes) -> str | None:
    """The request field an OpenAI error refuses as unsupported for the model (its ``param``, where the
    ``code`` is ``unsupported_parameter`` or ``unsupported_value``); None for any other error."""
    err = _error_object(raw)
    unsupported = err.get("code") in ("unsupported_parameter", "unsupported_value")
    return err["param"] if unsupported and isinstance(err.get("param"), str) else None


# What servers answer (lower case) to an image sent to a model that has no vision encoder: llama-server
# started without --mmproj (a runtime_error in oaicompat_chat_params_parse, answered 500), Ollama's runner
# (model.ErrNoVisionModel), mlx_lm.server (text only, answered 404) and vLLM 0.34 serving a text-only model
# (renderers/base.py and multimodal/registry.py, answered 400). Every request carries an image, so no retry
# can succeed, and the model name, URL and key may all be right.
_NO_IMAGE_INPUT = ("image input is not supported", "missing data required for image input",
                   "only 'text' content type is supported", "not available for text-only models",
                   "is not a multimodal model")


def _takes_no_images(raw: bytes) -> bool:
    """Whether an error body says the model takes no image input (``_NO_IMAGE_INPUT``)."""
    message = _error_message(raw).lower()
    return any(words in message for words in _NO_IMAGE_INPUT)


def _error_in_body(raw: bytes) -> str | None:
    """The message of a JSON body that carries ``"error"`` and no ``"choices"`` (as ``_error_body`` reads
    it, a list's first item too); None for any other body."""
    data = _error_body(raw)
    return _error_message(raw) if data.get("error") and "choices" not in data else None


def _server_message(text: str) -> str:
    """A server's error message as ``one_line`` shows it (its escape sequences would drive the terminal,
    its newlines forge lines of their own in the one-line error around it), a lone surrogate as U+FFFD;
    cut at 1,000 characters, which a validation error's long message fits."""
    return one_line(safe_text(text), limit=1000)


def _error_message(raw: bytes) -> str:
    """The message of an error body: OpenAI's ``{"error": {"message"}}``, older vLLM's top-level
    ``{"object": "error", "message"}``, FastAPI's ``{"detail"}``, any of them as a list's first item (Gemini's
    ``[{"error": ...}]``); else the body's start (``_excerpt``)."""
    data = _error_body(raw)
    err = data.get("error")
    if isinstance(err, dict) and err.get("message"):
        return _server_message(str(err["message"]))
    if isinstance(err, str):
        return _server_message(err)
    for key in ("message", "detail"):
        if isinstance(data.get(key), str) and data[key]:
            return _server_message(data[key])
    return _excerpt(raw)


def add_client_arguments(p: Any) -> None:
    """The chat-client flags shared by scripts/compare.py and scripts/evaluate.py (argparse parser)."""
    g = p.add_argument_group("VLM endpoint (any OpenAI-compatible chat-completions server)")
    g.add_argument("--api-key-env", type=api_key_env_arg, default="OPENAI_API_KEY", metavar="VAR",
                   help="the name of the environment variable holding the API key, not the key (default "
                   "OPENAI_API_KEY; unset, or an empty name: no key sent)")
    g.add_argument("--api-key", type=api_key_arg, help=argparse.SUPPRESS)  # refused: the key is not shown
    g.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for one whole answer, headers to last byte (default 120)")
    codes = "/".join(map(str, sorted(RETRY_STATUS)))
    g.add_argument("--retries", type=nonneg_int, default=5,
                   help=f"retries on HTTP {codes}/5xx, timeouts and dropped connections (default 5)")
    g.add_argument("--max-tokens", type=positive_int, default=1024,
                   help="max_tokens per answer (default 1024)")
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
    g.add_argument("--concurrency", type=positive_int, default=8,
                   help="requests in flight at once, across episodes (default 8)")
    g.add_argument("--extra-body", metavar="JSON", help="fields added to every request, overriding the "
                   "defaults; null drops one, e.g. '{\"max_tokens\": null, \"max_completion_tokens\": 4096, "
                   "\"temperature\": null}' for OpenAI reasoning models")
    g.add_argument("--image-detail", type=any_case(IMAGE_DETAILS[1:]), choices=IMAGE_DETAILS[1:],
                   help="the detail of every image part (OpenAI's image_url.detail: low is a fixed small "
                   "number of tokens an image; default: not sent, the server's choice)")
    g.add_argument("--cache-dir", type=path_arg,
                   help="response cache folder (default $DEPTHFIRST_VLM_CACHE, else "
                   "$XDG_CACHE_HOME/depthfirst/vlm, else ~/.cache/depthfirst/vlm); a re-run sends no "
                   "request for answers already there")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")


def refuse_unused_client_flags(parser: Any, args: Any) -> None:
    """Without ``--vlm``, refuse the ``add_client_arguments`` flags set away from their defaults, through
    ``parser.error``: a command playing no VLM would ignore them (``evaluate.py --temperature 0.7`` read
    like a setting of the policy's sampling, and played the argmax)."""
    if args.vlm:
        return
    p = argparse.ArgumentParser(add_help=False)
    add_client_arguments(p)
    unused = [flag_of(k) for k, v in vars(p.parse_args([])).items() if getattr(args, k) != v]
    if unused:
        one = len(unused) == 1
        parser.error(f"{', '.join(unused)} {'is' if one else 'are'} for --vlm (the VLM endpoint): "
                     f"drop {'it' if one else 'them'}")


def cache_root(args: Any) -> tuple[Path, str] | None:
    """The response cache folder the VLM endpoint's flags name, and how to name it in a message (the flag
    or the variable that gave it); None with ``--no-cache``."""
    from agents.vlm_cache import default_cache_dir

    if args.no_cache:
        return None
    if args.cache_dir is not None:
        return Path(args.cache_dir), f"--cache-dir {args.cache_dir}"
    root = default_cache_dir()
    return root, (f"$DEPTHFIRST_VLM_CACHE {root}" if os.environ.get("DEPTHFIRST_VLM_CACHE")
                  else f"the default response cache {root}")


def client_from_args(spec: str, args: Any) -> ChatClient:
    """A ``ChatClient`` for ``MODEL@URL`` with ``add_client_arguments``' flags; ValueError on bad input."""
    if not 0 < args.timeout <= MAX_TIMEOUT_S:  # NaN fails the comparison too
        raise ValueError(f"--timeout must be a finite number of seconds > 0, at most {MAX_TIMEOUT_S:g} "
                         f"seconds (what a socket timeout can hold), got {args.timeout:g}")
    if not 0 <= args.temperature < math.inf:
        raise ValueError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    extra = None
    if args.extra_body:
        try:
            extra = json.loads(args.extra_body)
        except ValueError as e:
            raise ValueError(f"--extra-body is not JSON: {e}") from None
        except RecursionError:  # "[" nested past json's depth: a traceback out of evaluate and compare
            raise ValueError("--extra-body is not JSON: it nests too deeply") from None
        if not isinstance(extra, dict):
            raise ValueError(f"--extra-body must be a JSON object, got {args.extra_body!r}")
        if {"model", "messages"} & set(extra):
            raise ValueError("--extra-body cannot set model or messages")
        if extra.get("stream"):  # a server streams server-sent events, which read as no chat completion
            raise ValueError("--extra-body cannot set stream: each answer is read whole; drop \"stream\"")
    endpoint = Endpoint.parse(spec)  # before the cache folder is made: a refused command leaves none
    cache = None
    if (where := cache_root(args)) is not None:  # checked now, not at the first answer (already paid for)
        check_cache_dir(*where)
        cache = ResponseCache(where[0])
    return ChatClient(endpoint, api_key_env=args.api_key_env, timeout=args.timeout,
                      max_retries=args.retries, max_tokens=args.max_tokens, temperature=args.temperature,
                      extra_body=extra, cache=cache, image_detail=args.image_detail)
