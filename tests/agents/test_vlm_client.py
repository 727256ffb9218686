"""The chat-completions client against a real loopback server: request shape, retries, timeouts, cache."""

import base64
import contextlib
import email.utils
import errno
import http.client
import io
import json
import os
import re
import shlex
import socket
import ssl
import struct
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.vlm_cache import ResponseCache
from agents.vlm_client import ChatClient, ChatConfigError, ChatError, Endpoint, retry_after_seconds
from tests.chat_server import (
    ChatServer,
    Reply,
    bad_request,
    error_body,
    good,
    not_json,
    rate_limited,
    server_error,
    tool_call,
)

IMG = np.zeros((8, 12, 3), dtype=np.uint8)
IMG[2, 3] = (255, 0, 0)


def client(server, **kw):
    kw.setdefault("backoff", 0.001)
    kw.setdefault("timeout", 2.0)
    kw.setdefault("api_key_env", None)
    return ChatClient(Endpoint("test-vl-7b", server.url), **kw)


def test_endpoint_spec_parsing():
    e = Endpoint.parse("qwen2.5-vl-7b@http://localhost:8000/v1/")
    assert (e.model, e.base_url, e.chat_url) == ("qwen2.5-vl-7b", "http://localhost:8000/v1",
                                                 "http://localhost:8000/v1/chat/completions")
    assert str(e) == "qwen2.5-vl-7b@http://localhost:8000/v1"  # as errors and reports name it
    assert Endpoint.parse("org/model@name@https://h/v1/chat/completions").chat_url == "https://h/v1/chat/completions"
    assert Endpoint.parse("org/model@name@https://h/v1").model == "org/model@name"
    for bad in ("qwen", "@http://x", "qwen@localhost:8000"):
        with pytest.raises(ValueError, match="MODEL@URL"):
            Endpoint.parse(bad)
    # A URL given without its model was repeated whole, with a key in its query or user name.
    for bad, shown in (("http://h/v1?key=abc", "'http://h/v1?…'"), ("https://u:pw@h/v1", "'https://…@h/v1'")):
        with pytest.raises(ValueError, match="MODEL@URL") as exc:
            Endpoint.parse(bad)
        assert str(exc.value).endswith(f"got {shown}") and "abc" not in str(exc.value)
    # A scheme in capitals is the same URL (RFC 3986); it was refused as "expects MODEL@URL".
    assert Endpoint.parse("m@HTTPS://h/v1").chat_url == "https://h/v1/chat/completions"
    # A host that is not ASCII is taken: urllib sends it IDNA-encoded (only a path must be ASCII).
    assert Endpoint.parse("m@http://bücher.example/v1").chat_url == "http://bücher.example/v1/chat/completions"


def test_a_model_name_that_is_not_utf8_is_refused_naming_the_flag(tmp_path):
    # A byte that is no UTF-8 on argv reaches Python as a lone surrogate: the request went out with it, and
    # the first answer's cache entry failed to encode, a UnicodeEncodeError traceback ending the run.
    spec = "m\udcff@http://127.0.0.1:9/v1"  # what $'m\xff@...' on the command line gives
    with pytest.raises(ValueError, match="the --vlm model name 'm\ufffd' is not valid UTF-8"):
        Endpoint.parse(spec)
    with pytest.raises(ValueError, match="--vlm model name"):
        ChatClient(spec, api_key_env=None)


@pytest.mark.parametrize("spec, message", [
    ("m@http://127.0.0.1:80a/v1", "is malformed: Port could not be cast"),
    ("m@http://127.0.0.1:99999/v1", "is malformed: Port out of range"),
    ("m@http://[::1/v1", "is malformed: Invalid IPv6 URL"),
    ("m@http://exa mple.com/v1", "contains a space"),
    ("m@http://h/v1\x00", "contains a space or control character"),
    ("m@http:///v1", "names no host"),
    ("m@http://:8000/v1", "names no host"),  # a port, but no host
    ("m@https://h/v1?api-key=k", "has a query or fragment"),
    # An empty query or fragment (a pasted URL ending in '?' or '#') sent every request to another path.
    ("m@https://h/v1?", "has a query or fragment"),
    ("m@https://h/v1#", "has a query or fragment"),
    # urllib failed each request with "'ascii' codec can't encode character", after the specialist's play.
    ("m@http://h/modèle/v1", "a path that is not ASCII: give it percent-encoded, http://h/mod%C3%A8le/v1"),
    # What is percent-encoded already is kept as it is, not encoded a second time (%20 -> %2520).
    ("m@http://h/a%20b/modèle/v1", "give it percent-encoded, http://h/a%20b/mod%C3%A8le/v1"),
    ("m@https://user:sk-secret@h/v1", "holds a user name or password: give the API key in an environment "
     "variable (--api-key-env, default OPENAI_API_KEY) instead"),
    # A key in the query (Gemini's ?key=) or beside a bad port was repeated in the message, which logs keep.
    ("m@https://h/v1?key=sk-secret", "the --vlm URL 'https://h/v1?…' has a query or fragment"),
    ("m@https://h/modèle/v1?key=sk-secret", "give it percent-encoded, https://h/mod%C3%A8le/v1?…"),
    ("m@http://user:sk-secret@h:99999/v1", "URL 'http://…@h:99999/v1' is malformed: Port out of range"),
    ("m@http://h/v 1?key=sk-secret", "the --vlm URL 'http://h/v 1?…' contains a space"),
    # A host with an empty label (a typo) or one over 63 characters passed, and every request then failed
    # with a UnicodeError from the IDNA codec (no ChatError): a traceback out of the game's worker thread.
    ("m@http://my-server..local:8000/v1", "has a host name no request can go to: 'my-server..local' has an"),
    ("m@http://" + "a" * 64 + ".example/v1", "host name no request can go to"),
    ("m@http://bü..example/v1", "host name no request can go to"),
])
def test_a_url_no_request_could_be_sent_to_is_refused_at_once(spec, message):
    # urllib failed on each request instead: retried with backoff on every decision, or (a bad IPv6
    # address) a ValueError from inside a worker thread.
    with pytest.raises(ValueError, match=re.escape(message)) as exc:
        Endpoint.parse(spec)
    assert "sk-secret" not in str(exc.value)


def test_request_follows_the_chat_completions_schema_and_usage_is_counted(monkeypatch):
    monkeypatch.setenv("MY_VLM_KEY", "sk-test")
    with ChatServer([good("<answer>UP</answer>", prompt_tokens=321, completion_tokens=12,
                          reasoning="the head is at the top")]) as server:
        reply = client(server, api_key_env="MY_VLM_KEY", max_tokens=77).complete("Which move?", [IMG])
    assert reply.content == "<answer>UP</answer>" and reply.reasoning == "the head is at the top"
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached) == (321, 12, False)
    body = server.requests[0]
    assert body["model"] == "test-vl-7b" and body["max_tokens"] == 77 and body["temperature"] == 0.0
    (msg,) = body["messages"]
    assert msg["role"] == "user"
    image_part, text_part = msg["content"]
    assert text_part == {"type": "text", "text": "Which move?"}
    url = image_part["image_url"]["url"]
    assert image_part["type"] == "image_url" and url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, IMG)  # lossless: the model sees exactly the rendered frame
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    # urllib sends a POST body as a form (application/x-www-form-urlencoded) unless told: a FastAPI
    # server such as vLLM reads the JSON only under its own content type.
    assert server.headers[0]["Content-Type"] == "application/json"


def test_no_key_no_authorization_header(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer([good("x")]) as server:
        client(server, api_key_env="OPENAI_API_KEY").complete("q", [IMG])
    assert "Authorization" not in server.headers[0]
    # An empty --api-key-env sends none either, $OPENAI_API_KEY set or not: a local server is not sent the
    # OpenAI key.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    with ChatServer([good("x")]) as server:
        client(server, api_key_env="").complete("q", [IMG])
    assert "Authorization" not in server.headers[0]


def test_a_fractional_temperature_and_a_prompt_outside_ascii_are_sent_as_given():
    # A temperature of 0.7 sent as a whole number would sample at 0 (greedy) with no error anywhere; a
    # prompt's arrows and accents must reach the server as the same text.
    prompt = "Which move? é → ↑ 🐍"
    with ChatServer([good("ok")]) as server:
        client(server, temperature=0.7).complete(prompt, [IMG])
    body = server.requests[0]
    assert body["temperature"] == 0.7 and body["messages"][0]["content"][-1]["text"] == prompt


def test_the_key_is_read_from_the_variable_named_as_it_is_written(monkeypatch):
    # Variable names are case-sensitive: --api-key-env my_vlm_key reads $my_vlm_key, not $MY_VLM_KEY.
    monkeypatch.setenv("my_vlm_key", "sk-lower")
    monkeypatch.setenv("MY_VLM_KEY", "sk-upper")
    with ChatServer([good("x")]) as server:
        client(server, api_key_env="my_vlm_key").complete("q", [IMG])
    assert server.headers[0]["Authorization"] == "Bearer sk-lower"


def _proxied(monkeypatch, **env: str) -> None:
    """Proxy variables as a cluster sets them (and no other): urllib's opener reads them when built."""
    import agents.vlm_client

    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(agents.vlm_client, "_OPENER",
                        urllib.request.build_opener(agents.vlm_client._NoRedirect))


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_an_error_through_a_proxy_names_it_and_the_no_proxy_entry_that_bypasses_it(monkeypatch, host):
    # A cluster's $http_proxy took the request for this machine's own server, which that proxy cannot
    # reach: its refusal read "cannot reach http://127.0.0.1:.../chat/completions: Connection refused (is
    # the server running? check the URL)", with the server running, and a proxy's 403 page "no API key was
    # sent". Python reads no CIDR range in $no_proxy, and an IPv6 host only in brackets: the entry is given.
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # nothing listens there once closed
    _proxied(monkeypatch, http_proxy=f"http://user:pw@127.0.0.1:{port}")
    with ChatServer([good("through")]) as server:
        url = server.url if host == "127.0.0.1" else "http://[::1]:9/v1"
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
        with pytest.raises(ChatConfigError) as exc:
            c.complete("q", [IMG])
        said = str(exc.value)
        assert f"through the proxy http://…@127.0.0.1:{port} that $http_proxy names" in said
        assert f"add {host} to $no_proxy" in said and "pw" not in said
        _proxied(monkeypatch, HTTP_PROXY=f"user:pw@127.0.0.1:{port}")  # no scheme, as urllib takes it too
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
        with pytest.raises(ChatConfigError) as exc:
            c.complete("q", [IMG])
        said = str(exc.value)
        assert f"proxy …@127.0.0.1:{port} that $HTTP_PROXY names" in said and "pw" not in said
        # The entry named bypasses it: the request goes to the server itself.
        _proxied(monkeypatch, http_proxy=f"http://127.0.0.1:{port}", NO_PROXY=f"localhost,{host}")
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
        if host == "127.0.0.1":
            assert c.complete("q", [IMG]).content == "through"
        else:  # nothing listens at [::1]:9, which is now said with no proxy
            with pytest.raises(ChatConfigError) as exc:
                c.complete("q", [IMG])
            assert "proxy" not in str(exc.value) and "refused" in str(exc.value)


@pytest.mark.parametrize("host, note", [
    ("localhost", "which cannot reach this machine's own localhost unless it runs here: add localhost to "
                  "$no_proxy"),
    # Another machine's server may well be reached through the proxy: not said to be this machine's.
    ("vlm.example", ": if the server is not reached through it, add vlm.example to $no_proxy"),
])
def test_an_error_through_a_proxy_says_whether_the_server_is_this_machine_s(monkeypatch, host, note):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # nothing listens there once closed
    _proxied(monkeypatch, http_proxy=f"http://127.0.0.1:{port}")
    c = ChatClient(Endpoint("m", f"http://{host}:8000/v1"), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatConfigError) as exc:
        c.complete("q", [IMG])
    assert f"(sent through the proxy http://127.0.0.1:{port} that $http_proxy names" in str(exc.value)
    assert note in str(exc.value), str(exc.value)
    assert ("this machine's own" in str(exc.value)) == (host == "localhost")


def test_a_passing_failure_through_a_proxy_stays_one(monkeypatch):
    # The proxy's note goes with an error no retry fixes (ChatConfigError) only: a 503 after the server has
    # answered is a failed decision the run goes on from, not a stop.
    body = b'{"choices": [{"message": {"content": "ok"}}]}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    _proxied(monkeypatch, http_proxy=_serve_raw([ok, busy]).removesuffix("/v1"))  # the proxy answers all
    c = ChatClient(Endpoint("m", "http://vlm.example:8000/v1"), api_key_env=None, timeout=2.0, max_retries=0)
    assert c.complete("q", [IMG]).content == "ok"
    with pytest.raises(ChatError) as exc:
        c.complete("q2", [IMG])
    assert type(exc.value) is ChatError and "HTTP 503" in str(exc.value) and "proxy" not in str(exc.value)


def test_the_api_key_is_written_into_no_cache_file(tmp_path, monkeypatch):
    # The cache outlives the run and may be shared or copied: the key goes in the request header only.
    monkeypatch.setenv("MY_VLM_KEY", "sk-secret-123")
    with ChatServer([good("ok")]) as server:
        client(server, api_key_env="MY_VLM_KEY", cache=ResponseCache(tmp_path)).complete("q", [IMG])
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and not any("sk-secret-123" in str(p) + p.read_text() for p in files)


def test_500_and_garbage_bodies_are_retried_then_succeed():
    # A garbage 200 is a hiccup only from a server that has sent a chat completion before.
    script = [good("first"), server_error(500), server_error(503), not_json(), good("<answer>LEFT</answer>")]
    with ChatServer(script) as server:
        c = client(server)
        assert c.complete("q0", [IMG]).content == "first"
        assert c.complete("q", [IMG]).content == "<answer>LEFT</answer>"
    assert server.hits == 5
    stats = c.stats.as_dict()
    assert stats["retries"] == 3 and stats["http_requests"] == 5 and stats["failures"] == 0
    assert stats["status_counts"] == {"500": 1, "503": 1, "200": 3}


@pytest.mark.parametrize("body, why", [
    (b"<html>this is not a chat completion</html>", "not JSON"),
    (b"", "not JSON"),
    (b'{"object": "list", "data": []}', "no choices"),
    (b'{"choices": []}', "no choices"),
    (b'{"choices": [{"text": "UP", "index": 0}]}', "choices\\[0\\] has no message"),  # legacy completions
    (b'{"choices": ["UP"]}', "no choices"),  # a choice that is no object: was an AttributeError
    (b'{"choices": [{"message": "UP"}]}', "choices\\[0\\] has no message"),  # a message that is no object
])
def test_a_200_that_is_no_chat_completion_fails_at_once_naming_the_url(body, why):
    with ChatServer(default=lambda b: Reply(body=body)) as server:
        c = client(server, max_retries=3)
        with pytest.raises(ChatConfigError, match=f"{server.url}/chat/completions answered HTTP 200 but "
                                                  f"not a chat completion \\({why}\\)") as exc:
            c.complete("q", [IMG])
    assert server.hits == 1 and c.stats.failures == 1  # not retried, not taken for the model's answer
    assert (body[:10].decode() if body else "an empty body") in str(exc.value)


def test_reasoning_odd_token_counts_and_calls_are_read_as_documented():
    # "reasoning" is the name some servers give the field that others call "reasoning_content".
    body = json.dumps({"choices": [{"message": {"content": "<answer>UP</answer>", "reasoning": "think"}}],
                       "usage": {"prompt_tokens": -5, "completion_tokens": "7"}}).encode()
    # Infinity, which Python's json reads, counts 0 too: int() of it raises OverflowError, not ValueError.
    endless = json.dumps({"choices": [{"message": {"content": "x"}}],
                          "usage": {"prompt_tokens": float("inf"), "completion_tokens": 3}}).encode()
    # A usage that is no object (a list) counts 0 too, rather than an AttributeError losing the answer.
    listed = json.dumps({"choices": [{"message": {"content": "y"}}], "usage": [10, 3]}).encode()
    with ChatServer([Reply(body=body), Reply(body=endless), Reply(body=listed)]) as server:
        c = client(server)
        reply = c.complete("q", [IMG])
        second = c.complete("q2", [IMG])
        third = c.complete("q3", [IMG])
    assert (reply.reasoning, reply.prompt_tokens, reply.completion_tokens) == ("think", 0, 7)
    assert (second.content, second.prompt_tokens, second.completion_tokens) == ("x", 0, 3)
    assert (third.content, third.prompt_tokens, third.completion_tokens) == ("y", 0, 0)
    assert c.stats.as_dict()["calls"] == 3


@pytest.mark.parametrize("field", ["type", "code"])
def test_an_account_out_of_quota_is_told_by_its_error_type_or_code_alone(field):
    quota = Reply(status=429, body=json.dumps({"error": {"message": "You exceeded your current quota.",
                                                         field: "insufficient_quota"}}).encode())
    with ChatServer(default=lambda b: quota) as server, pytest.raises(ChatConfigError, match="out of quota"):
        client(server, max_retries=3).complete("q", [IMG])
    assert server.hits == 1


def test_a_400_after_answers_fails_that_request_only():
    # Once the server has answered, a 400 is about one request (context length, a moderation refusal): a
    # ChatError, so the player counts that decision and plays on; before any answer it is the run's setup.
    with ChatServer([server_error(400), good("first"), server_error(400), good("again")]) as server:
        c = client(server, max_retries=3)
        with pytest.raises(ChatConfigError, match="refused the request with HTTP 400"):
            c.complete("q", [IMG])
        assert c.complete("q1", [IMG]).content == "first"
        with pytest.raises(ChatError, match="HTTP 400 for this request: scripted failure") as exc:
            c.complete("q2", [IMG])
        assert type(exc.value) is ChatError
        assert c.complete("q3", [IMG]).content == "again"
    assert server.hits == 4 and c.stats.failures == 2  # both refused calls, the setup error too


def test_a_rerun_whose_answers_come_from_the_cache_fails_only_the_request_that_failed_before(tmp_path):
    # A re-run sends only what the cache lacks: the requests that failed the first time. A cached answer
    # of this endpoint and model is a chat completion it sent, so a 400 or a request given up after its
    # retries is that request's again (the first run's figures), not "a wrong model or a server down".
    with ChatServer([good("first"), server_error(400)]) as server:
        first = client(server, max_retries=1, cache=ResponseCache(tmp_path / "cache"))
        assert first.complete("q1", [IMG]).content == "first"
        with pytest.raises(ChatError, match="HTTP 400 for this request"):
            first.complete("q2", [IMG])
        rerun = client(server, max_retries=1, cache=ResponseCache(tmp_path / "cache"))
        assert rerun.complete("q1", [IMG]).cached
        server.script = [server_error(400), server_error(500), server_error(500)]
        for question, why in (("q2", "HTTP 400 for this request"), ("q3", "gave up after 2 attempts")):
            with pytest.raises(ChatError, match=why) as exc:
                rerun.complete(question, [IMG])
            assert type(exc.value) is ChatError
    assert server.hits == 5


@pytest.mark.parametrize("wrap", [False, True])
def test_a_200_carrying_an_error_names_that_error(wrap):
    # Some proxies and routers answer HTTP 200 {"error": ...}: it is not "a URL that is no chat endpoint".
    # Wrapped in a list as Gemini's errors are, it was read so (_error_in_body parsed the body its own way).
    error = {"error": {"message": "upstream provider failed", "code": 502}}
    body = json.dumps([error] if wrap else error).encode()
    with ChatServer(default=lambda b: Reply(body=body)) as server:
        c = client(server, max_retries=3)
        with pytest.raises(ChatConfigError, match="answered HTTP 200 carrying an error: upstream provider "
                                                  "failed \\(the server or a proxy"):
            c.complete("q", [IMG])
    assert server.hits == 1 and c.stats.failures == 1


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_names_where_it_points(status):
    # urllib would resend a POST after a 301/302 as a GET without the body (answered 405 "refused") and
    # forward the Authorization header to whatever host the redirect names.
    with ChatServer() as target:
        location = f"{target.url}/chat/completions"
        moved = Reply(status=status, headers={"Location": location}, body=b"")
        with ChatServer(default=lambda b: moved) as server:
            c = client(server, api_key="sk-secret", max_retries=3)
            with pytest.raises(ChatConfigError, match=f"redirects \\(HTTP {status}\\) to {location}: give"):
                c.complete("q", [IMG])
    assert server.hits == 1 and target.hits == 0 and target.headers == [] and c.stats.failures == 1


def test_a_redirect_that_adds_a_slash_or_is_relative_names_a_url_that_then_works():
    # A server (FastAPI's redirect_slashes, a proxy) answering 307 "Location: /v1/chat/completions/": the
    # error named the relative path, which --vlm cannot take, and the URL it redirects to, given with --vlm,
    # lost its slash (a base URL's is cut), so the same redirect came again, whatever the user gave.
    moved = Reply(status=307, headers={"Location": "/v1/chat/completions/"}, body=b"")
    with ChatServer([moved], default=lambda b: good("DOWN")) as server:
        with pytest.raises(ChatConfigError) as exc:
            client(server).complete("q", [IMG])
        target = f"{server.url}/chat/completions/"
        assert f"redirects (HTTP 307) to {target}: give the URL it redirects to with --vlm" in str(exc.value)
        endpoint = Endpoint.parse(f"test-vl-7b@{target}")
        assert endpoint.chat_url == target
        c = ChatClient(endpoint, backoff=0.001, timeout=2.0, api_key_env=None)
        assert c.complete("q", [IMG]).content == "DOWN"
    assert Endpoint.parse(f"m@{server.url}/").chat_url == f"{server.url}/chat/completions"  # a base's slash


def test_a_redirect_relative_to_the_requested_path_or_with_no_location_is_named_as_it_points():
    # A path-relative Location resolves against the URL requested (RFC 3986), .../v1/chat/completions, not
    # against the --vlm base URL; a redirect without a Location points nowhere, and is said so.
    with ChatServer(default=lambda b: Reply(status=307, headers={"Location": "completions/"}, body=b"")
                    ) as server, pytest.raises(ChatConfigError) as exc:
        client(server).complete("q", [IMG])
    assert f"redirects (HTTP 307) to {server.url}/chat/completions/: give" in str(exc.value)
    with ChatServer(default=lambda b: Reply(status=302, body=b"")) as server, pytest.raises(
            ChatConfigError, match=r"redirects \(HTTP 302\) to no address: give"):
        client(server).complete("q", [IMG])


def test_a_redirects_query_and_user_name_are_hidden_as_the_users_own_urls_are():
    # The Location was printed as the server sent it: a redirect to "...?key=..." put the key into
    # terminals' and CI's logs, which the --vlm URL's own query never reaches (_without_secrets).
    location = "https://user:pw@llm.example/v1/chat/completions?key=sk-secret#x"
    moved = Reply(status=307, headers={"Location": location}, body=b"")
    with ChatServer(default=lambda b: moved) as server, pytest.raises(ChatConfigError) as exc:
        client(server).complete("q", [IMG])
    assert "redirects (HTTP 307) to https://…@llm.example/v1/chat/completions?…: give" in str(exc.value)
    assert "sk-secret" not in str(exc.value) and "pw" not in str(exc.value)


def test_a_gzip_encoded_answer_from_a_proxy_is_read():
    # A proxy gzipping the answer though no Accept-Encoding asked for it: the compressed bytes were read as
    # the body, "not JSON", and the endpoint refused as no chat-completions URL.
    import gzip

    completion = {"choices": [{"message": {"role": "assistant", "content": "DOWN"}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 100, "completion_tokens": 3}}
    zipped = gzip.compress(json.dumps(completion).encode())
    with ChatServer(default=lambda b: Reply(body=zipped, headers={"Content-Encoding": "gzip"})) as server:
        reply = client(server).complete("q", [IMG])
        assert (reply.content, reply.prompt_tokens, reply.completion_tokens) == ("DOWN", 100, 3)
        # Unpacked no further than a body is read: a small gzip that unpacks past the cap is one too long.
        big = gzip.compress(json.dumps({**completion, "pad": " " * 5000}).encode())
        with ChatServer(default=lambda b: Reply(body=big, headers={"Content-Encoding": "gzip"})) as huge:
            assert len(big) < 4000
            c = client(huge)
            c.max_response_bytes = 4000
            with pytest.raises(ChatConfigError, match="sent a response over 4,000 bytes, not read further"):
                c.complete("q", [IMG])


def test_a_gzip_answer_is_unpacked_by_any_spelling_of_its_encoding_up_to_the_cap_itself():
    # Content codings are case-insensitive and x-gzip is gzip (RFC 9110): each was read compressed, "not
    # JSON". A body unpacking to exactly the cap is read, as a plain body of that size is; a byte more not.
    import gzip

    completion = {"choices": [{"message": {"role": "assistant", "content": "DOWN"}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 100, "completion_tokens": 3}}
    plain = json.dumps(completion).encode()
    for encoding in ("x-gzip", "GZip", " gzip "):
        with ChatServer(default=lambda b, e=encoding: Reply(body=gzip.compress(plain), headers={
                "Content-Encoding": e})) as server:
            assert client(server).complete("q", [IMG]).content == "DOWN", encoding
    with ChatServer(default=lambda b: Reply(body=gzip.compress(plain), headers={"Content-Encoding": "gzip"})
                    ) as server:
        c = client(server)
        c.max_response_bytes = len(plain)
        assert c.complete("q", [IMG]).content == "DOWN"
        c.max_response_bytes = len(plain) - 1
        with pytest.raises(ChatError, match=f"sent a response over {len(plain) - 1:,} bytes"):
            c.complete("q", [IMG])
    # Said to be gzip but sent plain (a proxy that labels what it passes on): read as it came.
    with ChatServer(default=lambda b: Reply(body=plain, headers={"Content-Encoding": "gzip"})) as server:
        assert client(server).complete("q", [IMG]).content == "DOWN"


def test_a_gzipped_error_body_is_unpacked_for_its_message():
    # A proxy gzips error bodies as well: the server's reason was shown as compressed bytes.
    import gzip

    zipped = Reply(status=404, body=gzip.compress(error_body(404, "model 'x' does not exist")),
                   headers={"Content-Encoding": "gzip"})
    with ChatServer(default=lambda b: zipped) as server, pytest.raises(
            ChatConfigError, match="refused the request with HTTP 404: model 'x' does not exist"):
        client(server).complete("q", [IMG])


def test_a_replys_latency_is_that_of_its_request():
    with ChatServer([good("slow", delay=0.3)]) as server:
        reply = client(server).complete("q", [IMG])
    assert 0.3 <= reply.latency_s < 2.0


def test_a_reply_without_content_is_the_models_empty_answer():
    body = b'{"choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": "length"}]}'
    with ChatServer([Reply(body=body)]) as server:
        reply = client(server).complete("q", [IMG])
    assert (reply.content, reply.finish_reason, reply.prompt_tokens) == ("", "length", 0)


def test_content_parts_give_their_text_only():
    # A part whose text is null (or absent, e.g. a refusal part) adds nothing, not the string "None".
    parts = [{"type": "text", "text": "<answer>"}, {"type": "text", "text": None},
             {"type": "refusal", "refusal": "no"}, {"type": "text", "text": "UP</answer>"}]
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": parts}}]}).encode()
    with ChatServer([Reply(body=body)]) as server:
        assert client(server).complete("q", [IMG]).content == "<answer>UP</answer>"
    # message.refusal beside content parts is kept: the parts' refusals stand in only when it is absent.
    message = {"role": "assistant", "content": [{"type": "text", "text": ""}], "refusal": "I won't."}
    reply = ChatClient._parse(json.dumps({"choices": [{"message": message}]}).encode(), 0.0)
    assert (reply.content, reply.refusal) == ("", "I won't.")
    # Parts with neither a thinking part nor a refusal: no reasoning and no refusal (None, as for a plain
    # string), not "" read from the parts that are not there (the decision log's "reasoning": null).
    message = {"role": "assistant", "content": [{"type": "text", "text": "<answer>UP</answer>"}]}
    reply = ChatClient._parse(json.dumps({"choices": [{"message": message}]}).encode(), 0.0)
    assert (reply.content, reply.reasoning, reply.refusal) == ("<answer>UP</answer>", None, None)


def _post_raw(server: ChatServer, raw: bytes, kind: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.url}/chat/completions", data=raw, method="POST",
                                     headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def _png_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _user(*parts: dict) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": list(parts)}]}


_TEXT = {"type": "text", "text": "Which move?"}


_JSON = "application/json"


@pytest.mark.parametrize("body, kind, why", [
    (b"{not json", _JSON, "JSON decode error"),
    (b"[]", _JSON, "valid dictionary"),
    # urllib's default Content-Type, a form: FastAPI reads no JSON from it
    (json.dumps(_user(_TEXT)).encode(), "application/x-www-form-urlencoded", "valid dictionary"),
    (json.dumps({"model": "m", "messages": []}).encode(), _JSON, "non-empty list of messages"),
    (json.dumps(_user({"type": "image_url", "image_url": {"url": "http://x/a.png"}}, _TEXT)).encode(), _JSON,
     "base64 data URL"),
    (json.dumps(_user({"type": "image_url", "image_url": {"url": _png_url(b"not a png")}}, _TEXT)).encode(),
     _JSON, "cannot be read"),
    (json.dumps(_user({"type": "input_image", "image_url": "x"}, _TEXT)).encode(), _JSON,
     "unknown content part"),
    (json.dumps({**_user(_TEXT), "max_tokens": 0}).encode(), _JSON, "max_tokens must be at least 1"),
    (json.dumps({**_user(_TEXT), "temperature": -1}).encode(), _JSON, "temperature must be non-negative"),
])
def test_the_test_server_refuses_what_vllm_refuses_in_its_error_shape(body, kind, why):
    # The double checks every request as vLLM's server would, so no test passes on a request a real
    # server answers 400; its error body is vLLM's ErrorResponse ({"error": {message, type, param, code}}).
    with ChatServer([good("never sent")]) as server:
        status, error = _post_raw(server, body, kind)
        assert _post_raw(server, json.dumps(_user(_TEXT)).encode(), _JSON)[0] == 200
    assert status == 400 and why in error["error"]["message"]
    assert (error["error"]["type"], error["error"]["param"], error["error"]["code"]) == ("BadRequestError",
                                                                                         None, 400)
    assert server.hits == 1  # the refused request reached no scripted reply


def test_a_url_without_v1_gets_fastapis_not_found_and_is_told_to_check_the_url():
    # vLLM's server answers an unknown path as FastAPI does: {"detail": "Not Found"}.
    # A bare host:port is the usual slip (vLLM's own examples end in /v1): the message gives the URL to try.
    with ChatServer() as server, pytest.raises(ChatConfigError) as exc:
        ChatClient(Endpoint("m", server.url.removesuffix("/v1")), api_key_env=None).complete("q", [IMG])
    assert f"HTTP 404: Not Found (the URL has no path; give {server.url}" in str(exc.value), exc.value
    assert "check the model name 'm' and the API key)" in str(exc.value)
    # With a path of its own, a 404 may be the model or the key as well as the URL: all three are named.
    why = r"HTTP 404: Not Found \(check the model name 'm', the URL and the API key\)"
    with ChatServer() as server, pytest.raises(ChatConfigError, match=why):
        ChatClient(Endpoint("m", server.url.replace("/v1", "/api")), api_key_env=None).complete("q", [IMG])


def test_a_tool_call_in_place_of_content_is_the_models_empty_answer():
    # A model that calls a tool (vLLM with --enable-auto-tool-choice, a tools list in --extra-body) sends
    # content null beside tool_calls: no move, and no failure of the server.
    with ChatServer([tool_call()]) as server:
        reply = client(server).complete("q", [IMG])
    assert (reply.content, reply.finish_reason, reply.refusal) == ("", "tool_calls", None)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_the_reasoning_is_read_under_either_name_servers_give_it(field):
    # SGLang and llama-server send reasoning_content; vLLM (since it renamed the field) and Ollama reasoning.
    with ChatServer([good("<answer>UP</answer>", reasoning="the head is at the top", reasoning_field=field)]
                    ) as server:
        reply = client(server).complete("q", [IMG])
    assert (reply.content, reply.reasoning) == ("<answer>UP</answer>", "the head is at the top")


@pytest.mark.parametrize("reason", ["abort", "error"])
def test_an_answer_the_server_stopped_itself_is_retried_and_not_cached(reason, tmp_path):
    # vLLM and SGLang end the requests in flight when shut down (vLLM's --shutdown-timeout 0) or paused
    # with HTTP 200 and finish_reason "abort", the answer cut wherever it stood: taken as the model's
    # answer, it was counted as its invalid move and cached, so every re-run replayed it.
    stopped = good("<think>The head is at", finish_reason=reason)
    with ChatServer([good("first"), stopped, good("<answer>UP</answer>"), stopped, stopped]) as server:
        c = client(server, max_retries=1, cache=ResponseCache(tmp_path))
        assert c.complete("q0", [IMG]).content == "first"
        assert c.complete("q1", [IMG]).content == "<answer>UP</answer>"
        with pytest.raises(ChatError, match=f"gave up after 2 attempts; last: HTTP 200 but the server "
                                            f"stopped the answer itself \\(finish_reason '{reason}'"):
            c.complete("q2", [IMG])
        assert client(server, cache=ResponseCache(tmp_path)).complete("q1", [IMG]).cached
        server.script = [good("<answer>DOWN</answer>")]
        assert client(server, cache=ResponseCache(tmp_path)).complete("q2", [IMG]).content == (
            "<answer>DOWN</answer>")  # the stopped answer was not cached: asked again
    assert server.hits == 6 and c.stats.retries == 2 and c.stats.failures == 1


def test_an_answer_the_server_stopped_cached_before_it_was_retried_is_asked_again(tmp_path):
    # Caches written before such answers were retried hold them: served as hits, every re-run replayed the
    # cut answer the retry is there to replace.
    with ChatServer([good("<think>The head is at")]) as server:
        client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG])
        (entry,) = tmp_path.rglob("*.json")
        entry.write_text(json.dumps({**json.loads(entry.read_text()), "finish_reason": "abort"}))
        server.script = [good("<answer>UP</answer>")]
        reply = client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG])
        assert (reply.content, reply.cached, server.hits) == ("<answer>UP</answer>", False, 2)
        assert client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG]).cached  # replaced
        entry.write_text(json.dumps({**json.loads(entry.read_text()), "finish_reason": ["abort"]}))
        assert client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG]).cached  # no such reason


def test_reasoning_sent_as_thinking_parts_is_kept_as_the_reasoning():
    # Mistral's API answers a Magistral model's thinking as a content part of its own, its text in a list:
    # the answer was read, the reasoning dropped (no reasoning in the decision log or the report's frames).
    parts = [{"type": "thinking", "thinking": [{"type": "text", "text": "The head is at "},
                                               {"type": "text", "text": "the top."}]},
             {"type": "text", "text": "<answer>UP</answer>"}]
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": parts},
                                    "finish_reason": "stop"}]}).encode()
    with ChatServer([Reply(body=body)]) as server:
        reply = client(server).complete("q", [IMG])
    assert (reply.content, reply.reasoning) == ("<answer>UP</answer>", "The head is at the top.")


def test_the_first_of_several_choices_is_the_answer():
    # --extra-body '{"n": 2}' asks for several: the answer is choices[0], as the OpenAI API reference has it.
    choices = [{"index": k, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
               for k, (text, reason) in enumerate([("first", "stop"), ("second", "length")])]
    body = json.dumps({"choices": choices}).encode()
    with ChatServer([Reply(body=body)]) as server:
        reply = client(server).complete("q", [IMG])
    assert (reply.content, reply.finish_reason) == ("first", "stop")


def test_a_refusal_is_kept_and_cached(tmp_path):
    # OpenAI sends message.refusal with null content when the model declines: it read as an empty answer.
    refused = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    as_part = {"role": "assistant", "content": [{"type": "refusal", "refusal": "Not this one."}]}
    bodies = [json.dumps({"choices": [{"message": m, "finish_reason": "stop"}]}).encode()
              for m in (refused, as_part)]
    with ChatServer([Reply(body=b) for b in bodies]) as server:
        c = client(server, cache=ResponseCache(tmp_path))
        first = c.complete("q", [IMG])
        again = c.complete("q", [IMG])
        part = c.complete("another", [IMG])
    assert (first.content, first.refusal) == ("", "I can't help with that.")
    assert again.cached and again.refusal == first.refusal
    assert (part.content, part.refusal) == ("", "Not this one.")
    assert server.hits == 2


def test_an_answer_cut_at_max_tokens_is_still_said_so_from_the_cache(tmp_path):
    # compare and evaluate count answers cut at --max-tokens (finish_reason "length") and warn to raise it:
    # a re-run served from the cache must count them too, not read them as whole answers.
    with ChatServer([good("<think>still going", finish_reason="length")]) as server:
        client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG])
        again = client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG])
    assert (again.cached, again.finish_reason, server.hits) == (True, "length", 1)


def test_lone_surrogates_in_a_reply_become_replacement_characters_and_are_cached(tmp_path):
    # A server that cut an emoji in half sends JSON "\ud83d" alone: no UTF-8 file could hold that.
    with ChatServer([good("UP \ud83d!", reasoning="hmm \udc00", completion_tokens=3)]) as server:
        c = client(server, cache=ResponseCache(tmp_path))
        first = c.complete("q", [IMG])
        again = c.complete("q", [IMG])
    assert (first.content, first.reasoning) == ("UP \ufffd!", "hmm \ufffd")
    assert again.cached and (again.content, again.reasoning) == (first.content, first.reasoning)
    assert server.hits == 1
    # An entry edited by hand (or by another tool) to hold one is made safe as it is read back too.
    (entry,) = tmp_path.rglob("*.json")
    text = entry.read_text(encoding="utf-8")
    edited = text.replace("UP \ufffd!", "UP \\ud800!")  # JSON's escape of a lone surrogate
    assert edited != text
    entry.write_text(edited, encoding="utf-8")
    assert client(server, cache=ResponseCache(tmp_path)).complete("q", [IMG]).content == "UP \ufffd!"


def test_a_reply_that_is_not_utf8_keeps_its_answer_with_replacement_characters(tmp_path):
    # A chat completion whose bytes are not UTF-8 (a server or proxy writing Latin-1, a token cut mid
    # character) read as "not JSON": on the first request the run stopped, taken for a wrong URL, and
    # later every retry got the same bytes and the decision played its fallback.
    latin1 = '{"choices": [{"message": {"content": "<answer>UP</answer> caf\xe9"}}]}'.encode("latin-1")
    with ChatServer([Reply(body=latin1)]) as server:
        c = client(server, cache=ResponseCache(tmp_path))
        first = c.complete("q", [IMG])
        again = c.complete("q", [IMG])
    assert first.content == "<answer>UP</answer> caf\ufffd" and not first.cached
    assert again.cached and again.content == first.content and server.hits == 1
    # JSON in UTF-16 (which RFC 4627 allowed, and json.loads detects) is still read as such.
    utf16 = json.dumps({"choices": [{"message": {"content": "\u00e9t\u00e9"}}]}).encode("utf-16")
    assert ChatClient._parse(utf16, 0.0).content == "\u00e9t\u00e9"


def test_the_same_model_name_at_another_url_is_not_served_from_the_cache(tmp_path):
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda b: good("from one")) as one, \
            ChatServer(default=lambda b: good("from two")) as two:
        assert client(one, cache=cache).complete("q", [IMG]).content == "from one"
        reply = client(two, cache=cache).complete("q", [IMG])
        assert (reply.content, reply.cached) == ("from two", False)
        assert client(one, cache=cache).complete("q", [IMG]).cached  # each URL keeps its own answers
    assert (one.hits, two.hits) == (1, 1)


def test_429_honours_retry_after_seconds_and_dates():
    sleeps = []
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    with ChatServer([rate_limited("7"), rate_limited(date), rate_limited(None), good("ok")]) as server:
        c = client(server, sleep=sleeps.append, backoff=0.5, max_backoff=60)
        assert c.complete("q", [IMG]).content == "ok"
    assert sleeps[0] == 7.0
    assert 25 <= sleeps[1] <= 31  # an HTTP date: the time left until then
    assert 0.5 * 4 <= sleeps[2] <= 0.5 * 4 * 1.25  # no header: backoff · 2^attempt (attempt 2), jittered
    assert server.hits == 4


def test_a_429_for_an_account_out_of_quota_is_not_retried():
    # OpenAI's "You exceeded your current quota": every decision waited out its retries, then was played
    # as the counted fallback, for the whole run.
    quota = Reply(status=429, body=json.dumps({"error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}).encode())
    with ChatServer(default=lambda b: quota) as server:
        sleeps = []
        c = client(server, max_retries=3, sleep=sleeps.append)
        with pytest.raises(ChatConfigError, match=r"HTTP 429: You exceeded your current quota.*out of quota"):
            c.complete("q", [IMG])
    assert server.hits == 1 and sleeps == [] and c.stats.failures == 1


def test_retry_after_is_read_whatever_the_case_of_its_name_and_in_milliseconds():
    # uvicorn (vLLM, SGLang), HTTP/2 proxies and OpenAI send header names in lower case; OpenAI also
    # sends retry-after-ms, which the OpenAI SDK prefers.
    sleeps = []
    script = [Reply(status=429, headers={"retry-after": "7"}, body=b'{"error": {"message": "slow down"}}'),
              Reply(status=503, headers={"RETRY-AFTER": "3"}, body=b"busy"),
              Reply(status=429, headers={"retry-after-ms": "1500", "retry-after": "2"}, body=b"{}"),
              good("ok")]
    with ChatServer(script) as server:
        assert client(server, sleep=sleeps.append, backoff=0.001).complete("q", [IMG]).content == "ok"
    assert sleeps == [7.0, 3.0, 1.5]


def test_retry_after_is_capped_and_parsed_safely():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("garbage") is None and retry_after_seconds(None) is None
    # A date whose year or hour overflows a C long raised OverflowError (no ChatError) out of the request.
    for huge in ("Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
                 "Mon, 01 Jan 2020 99999999999999999999:00:00 GMT"):
        assert retry_after_seconds(huge) is None
    sleeps = []
    with ChatServer([rate_limited("100000"), good("ok")]) as server:
        client(server, sleep=sleeps.append, max_retry_after=5).complete("q", [IMG])
    assert sleeps == [5]


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Asia/Tokyo"])
def test_a_retry_after_date_without_a_zone_or_in_minus_0000_is_utc_whatever_the_local_zone(tz):
    # email.utils.formatdate's default writes "-0000" (UTC, RFC 5322), which Python parses to a naive time:
    # read as the machine's local time, the wait was off by its UTC offset (8 h: capped at max_retry_after),
    # and a date near the year 9999 east of UTC raised ValueError (no ChatError) out of the request.
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        soon = retry_after_seconds(email.utils.formatdate(time.time() + 30))
        bare = retry_after_seconds(email.utils.formatdate(time.time() + 30).removesuffix(" -0000"))
        far = retry_after_seconds("Fri, 31 Dec 9999 23:59:59 -0000")
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
    assert 25 <= soon <= 31 and 25 <= bare <= 31 and far > 1e9


def test_a_retry_after_of_zero_still_backs_off():
    # "Retry-After: 0" (or a date already past) sent every retry at once to a server that limits requests.
    sleeps = []
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    # retry-after-ms is preferred to retry-after, so its 0 is the wait asked for: the backoff, not the 9 s.
    zero_ms = Reply(status=429, headers={"retry-after-ms": "0", "retry-after": "9"}, body=b"{}")
    with ChatServer([rate_limited("0"), rate_limited(past), zero_ms, good("ok")]) as server:
        client(server, sleep=sleeps.append, backoff=0.5).complete("q", [IMG])
    assert 0.5 <= sleeps[0] <= 0.5 * 1.25 and 1.0 <= sleeps[1] <= 1.0 * 1.25
    assert 2.0 <= sleeps[2] <= 2.0 * 1.25


def test_gives_up_after_the_retries_with_a_clear_error():
    with ChatServer(default=lambda body: server_error(502)) as server:
        c = client(server, max_retries=2)
        with pytest.raises(ChatError, match="gave up after 3 attempts; last: HTTP 502: scripted failure"):
            c.complete("q", [IMG])
    assert server.hits == 3 and c.stats.failures == 1


def test_a_slow_answer_times_out_and_is_retried():
    with ChatServer([good("late", delay=1.5), good("on time")]) as server:
        c = client(server, timeout=0.3)
        t0 = time.perf_counter()
        assert c.complete("q", [IMG]).content == "on time"
        assert time.perf_counter() - t0 < 1.4  # it did not wait for the slow reply
    assert c.stats.timeouts == 1 and c.stats.retries == 1 and server.hits == 2


def test_the_timeout_bounds_the_whole_answer_not_each_read():
    # A server (or a proxy) that sends its headers, then a byte of keep-alive whitespace every 0.1 s
    # for 5 s: each read is quick, but the answer takes 5 s; --timeout 0.5 must end it near 0.5 s.
    body = b'{"choices": [{"message": {"content": "late"}}]}'
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle():
        conn, _ = listener.accept()
        with conn:
            _read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % (len(body) + 50))
            try:
                for _ in range(50):
                    conn.sendall(b" ")
                    time.sleep(0.1)
                conn.sendall(body)
            except OSError:
                pass  # the client gave up, as it should

    threading.Thread(target=trickle, daemon=True).start()
    c = ChatClient(Endpoint("m", f"http://127.0.0.1:{listener.getsockname()[1]}/v1"), api_key_env=None,
                   timeout=0.5, max_retries=0)
    t0 = time.perf_counter()
    with pytest.raises(ChatError, match=r"no answer within 0\.5 s"):
        c.complete("q", [IMG])
    # The README: given up within twice --timeout at most (here the headers came at once).
    assert time.perf_counter() - t0 < 2 * 0.5 and c.stats.timeouts == 1
    listener.close()


def test_an_answer_whole_in_time_for_its_last_read_is_kept():
    # Headers at 0.6 s, the body at 1.2 s, --timeout 1: each read is within the socket timeout and the
    # answer is complete; it must not be thrown away because the deadline passed while it came in.
    body = b'{"choices": [{"message": {"content": "late but whole"}}]}'
    listener = socket.create_server(("127.0.0.1", 0))

    def slow():
        conn, _ = listener.accept()
        with conn:
            _read_request(conn)
            time.sleep(0.6)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body))
            time.sleep(0.6)
            conn.sendall(body)

    threading.Thread(target=slow, daemon=True).start()
    c = ChatClient(Endpoint("m", f"http://127.0.0.1:{listener.getsockname()[1]}/v1"), api_key_env=None,
                   timeout=1.0, max_retries=0)
    assert c.complete("q", [IMG]).content == "late but whole"
    listener.close()


def test_a_body_cut_short_of_its_content_length_is_retried_not_taken_for_a_wrong_url():
    # A proxy that drops the connection mid-body: on the very first request this was "HTTP 200 but not a
    # chat completion (not JSON) ... is it an OpenAI-compatible chat-completions URL?", ending the run.
    body = b'{"choices": [{"message": {"content": "whole"}}]}'
    listener = socket.create_server(("127.0.0.1", 0))

    def cut_then_whole():
        for part in (body[:20], body):
            conn, _ = listener.accept()
            with conn:
                _read_request(conn)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + part)

    threading.Thread(target=cut_then_whole, daemon=True).start()
    c = ChatClient(Endpoint("m", f"http://127.0.0.1:{listener.getsockname()[1]}/v1"), api_key_env=None,
                   timeout=2.0, max_retries=1, sleep=lambda s: None)
    assert c.complete("q", [IMG]).content == "whole"
    assert c.stats.retries == 1 and c.stats.status_counts == {"connection": 1, "200": 1}
    listener.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(1 << 16)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(1 << 16)


def _serve_raw(replies: list[bytes]) -> str:
    """A URL whose server answers each request with the next of ``replies`` (raw HTTP), then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            for reply in replies:
                conn, _ = listener.accept()
                with conn:
                    _read_request(conn)  # all of it: closing with bytes unread would send a reset
                    with contextlib.suppress(OSError):  # the client stopped reading (over its cap)
                        conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


@pytest.mark.parametrize("cut", [20, 24, 47])
def test_a_body_cut_short_without_content_length_is_retried_and_said(cut):
    # Read to the connection's close (no Content-Length), a dropped answer was taken on the first request
    # for a wrong URL: "HTTP 200 but not a chat completion (not JSON) ... is it an OpenAI-compatible URL?".
    body = b'{"choices": [{"message": {"content": "whole"}}]}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    url = _serve_raw([head + body[:cut], head + body])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=1, sleep=lambda s: None)
    assert c.complete("q", [IMG]).content == "whole" and c.stats.retries == 1
    said = f"last: HTTP 200 cut short: the connection closed after {cut} bytes"
    url = _serve_raw([head + body[:cut]])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatConfigError, match=f"gave up after 1 attempt; {said}.*no chat completion"):
        c.complete("q", [IMG])  # given up before any answer: the run stops
    url = _serve_raw([head + body, head + body[:cut]])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
    assert c.complete("q", [IMG]).content == "whole"
    with pytest.raises(ChatError, match=said) as exc:
        c.complete("q2", [IMG])
    assert type(exc.value) is ChatError  # after an answer: this request's failure, the run goes on


def test_a_whole_body_of_its_content_length_that_stops_midway_is_no_chat_completion_not_cut_short():
    # All of the Content-Length came, so nothing was dropped: the server (or a proxy) sent broken JSON. It
    # was said "cut short: the connection closed after 26 bytes, mid-answer" and retried with backoff (~30 s
    # at the defaults), the first request's wrong URL or broken proxy then named only after every retry.
    body = b'{"choices": [ {"message": '
    sleeps = []
    said = r"answered HTTP 200 but not a chat completion \(not JSON\)"
    with ChatServer([Reply(body=body)]) as server, pytest.raises(ChatConfigError, match=said) as exc:
        client(server, max_retries=5, sleep=sleeps.append).complete("q", [IMG])
    assert "cut short" not in str(exc.value) and sleeps == [] and server.hits == 1
    with ChatServer([good("ok"), Reply(body=body), good("again")]) as server:
        c = client(server, max_retries=1, sleep=lambda s: None)
        assert c.complete("q0", [IMG]).content == "ok"
        assert c.complete("q1", [IMG]).content == "again"  # after an answer: a hiccup, retried
        assert c.stats.retries == 1


def test_a_whole_chunked_body_that_stops_midway_as_json_is_no_chat_completion_not_cut_short():
    # Its last chunk came (a connection dropped mid-chunk is an IncompleteRead): broken as sent, as above.
    body = b'{"choices": [ {"message": '
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    url = _serve_raw([head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatConfigError, match=r"answered HTTP 200 but not a chat completion \(not JSON\)"):
        c.complete("q", [IMG])


def test_a_chunked_body_cut_short_says_so_not_cannot_reach():
    body = b'{"choices": [{"message": {"content": "whole"}}]}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    url = _serve_raw([head + b"%x\r\n" % len(body) + body[:20]])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatError, match=r"last: the answer from .* was cut short \(the connection closed"):
        c.complete("q", [IMG])


def test_a_connection_reset_mid_body_is_said_cut_short_not_a_tls_server():
    # The status line and headers came, then a reset (a server killed mid-answer): this was "dropped the
    # connection (...; an https:// server given an http:// URL does so too)", though an HTTP reply came.
    body = b'{"choices": [{"message": {"content": "whole"}}]}'
    listener = socket.create_server(("127.0.0.1", 0))

    def reset_mid_body():
        conn, _ = listener.accept()
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
        time.sleep(0.2)  # the client is reading the body now
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close as a reset
        conn.close()

    threading.Thread(target=reset_mid_body, daemon=True).start()
    c = ChatClient(Endpoint("m", f"http://127.0.0.1:{listener.getsockname()[1]}/v1"), api_key_env=None,
                   timeout=2.0, max_retries=0)
    with pytest.raises(ChatConfigError, match=r"last: the answer from .* was cut short \(the connection "
                       r"closed mid-body\)") as exc:
        c.complete("q", [IMG])
    assert "https://" not in str(exc.value)
    listener.close()


@pytest.mark.parametrize("reply", [b"garbage\r\n\r\n", b"HTTP/1.1 2\x1b[31m00 OK\r\n\r\n",
                                   b"HTTP/1.1 abc\x07\r\n\r\n"])
def test_a_reply_with_no_http_status_line_is_said_on_one_line(reply):
    # http.client's BadStatusLine holds the line as it came: "cannot reach ...: garbage\r\n" broke the
    # error over two lines, and an escape sequence in it reached the user's terminal.
    c = ChatClient(Endpoint("m", _serve_raw([reply])), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatError) as exc:
        c.complete("q", [IMG])
    assert not any(ch in str(exc.value) for ch in "\r\n\x1b\x07")


def test_a_server_that_answers_no_http_fails_at_once_saying_to_check_the_port():
    # "cannot reach ...: garbage", after every retry, then "is the server up and done loading the model?":
    # it was reached, and what answered there speaks no HTTP (another service's port), which no retry fixes.
    sleeps = []
    url = _serve_raw([b"SSH-2.0-OpenSSH_9.6\r\n"])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=3, sleep=sleeps.append)
    with pytest.raises(ChatConfigError, match=r"/chat/completions answered with no HTTP status line "
                       r"\('SSH-2\.0-OpenSSH_9\.6'\): what listens there is no HTTP/1\.x server; "
                       r"check the URL's port") as exc:
        c.complete("q", [IMG])
    assert "cannot reach" not in str(exc.value) and sleeps == []
    # Once the server has answered, such a reply is a hiccup: retried.
    body = b'{"choices": [{"message": {"content": "ok"}}]}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    url = _serve_raw([ok, b"garbage\r\n\r\n", ok])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=1, sleep=lambda s: None)
    assert c.complete("q", [IMG]).content == "ok" and c.complete("q2", [IMG]).content == "ok"


def test_a_server_that_closes_or_resets_at_once_is_said_to_have_so_not_to_be_out_of_reach(monkeypatch):
    url = _serve_raw([b""])  # reads the request, closes without a byte
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=0)
    with pytest.raises(ChatConfigError, match=r"last: http://\S+ closed the connection without an answer "
                       r"\(.*https://.*\) \(no chat completion has come from it yet: is the server up"):
        c.complete("q", [IMG])

    def reset(data):
        raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    monkeypatch.setattr(c, "_post", reset)
    with pytest.raises(ChatConfigError, match=r"last: http://\S+ dropped the connection \(\[Errno \d+\] "
                       r"Connection reset by peer; .*https://.*\) \(no chat completion"):
        c.complete("q", [IMG])


def test_a_response_over_the_size_cap_is_not_read():
    # Only --timeout bounded a response: a fast server sending an endless body filled memory first.
    sleeps = []
    with ChatServer([good("x" * 5000), good("ok"), good("y" * 5000), good("fine")]) as server:
        c = client(server, sleep=sleeps.append)
        c.max_response_bytes = 2000
        with pytest.raises(ChatConfigError, match=r"sent a response over 2,000 bytes, not read further "
                           r"\(is it an OpenAI-compatible"):
            c.complete("q", [IMG])  # the first answer: a download, not a chat-completions URL
        assert c.complete("q2", [IMG]).content == "ok"
        with pytest.raises(ChatError, match="over 2,000 bytes") as exc:
            c.complete("q3", [IMG])  # once answers came: this request only fails, and is not retried
        assert type(exc.value) is ChatError
        assert c.complete("q4", [IMG]).content == "fine"
    assert server.hits == 4 and sleeps == [] and c.stats.failures == 2
    # Without a Content-Length, the body is cut off once it passes the cap.
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    c = ChatClient(Endpoint("m", _serve_raw([head + b" " * 300_000])), api_key_env=None, max_retries=0)
    c.max_response_bytes = 100_000
    with pytest.raises(ChatConfigError, match="over 100,000 bytes"):
        c.complete("q", [IMG])


def test_an_unreachable_server_fails_at_once_naming_the_url():
    with ChatServer() as server:
        url = server.url
    sleeps = []
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=0.5, max_retries=5, sleep=sleeps.append)
    with pytest.raises(ChatConfigError, match=f"cannot reach {url}.*check the URL"):
        c.complete("q", [IMG])
    assert sleeps == [] and c.stats.failures == 1  # no retry: nothing ever answered there


def test_an_https_url_for_a_plain_http_server_fails_at_once():
    # Retrying a failed TLS handshake cannot help: every decision would wait out its backoff for nothing.
    with ChatServer() as server:
        url = server.url.replace("http://", "https://")
        sleeps = []
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=5, sleep=sleeps.append)
        with pytest.raises(ChatConfigError, match=f"cannot reach {url}.*TLS handshake failed.*check the URL"):
            c.complete("q", [IMG])
    assert sleeps == [] and c.stats.failures == 1


def test_a_connection_reset_before_any_answer_is_retried(monkeypatch):
    c = ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"), api_key_env=None, max_retries=2,
                   sleep=lambda s: None)

    def reset(data):
        raise ConnectionResetError("reset by peer")  # a loading server, not a wrong URL

    monkeypatch.setattr(c, "_post", reset)
    # Retried; given up with no chat completion ever, the run stops (it played every decision's fallback
    # and reported the VLM 100% invalid).
    with pytest.raises(ChatConfigError, match=r"gave up after 3 attempts.*reset by peer.*no chat completion "
                       r"has come from it yet: is the server up and done loading the model"):
        c.complete("q", [IMG])


@pytest.mark.parametrize("reason, fatal", [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), True),  # an unknown host
    (socket.gaierror(getattr(socket, "EAI_NODATA", socket.EAI_NONAME), "No address associated with hostname"),
     True),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), False),  # a resolver's hiccup
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), True),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), False),  # closed mid-handshake
])
def test_a_connection_failure_fails_at_once_only_before_any_answer_and_if_retrying_cannot_help(
        monkeypatch, reason, fatal):
    # README: an unknown host or a failed TLS handshake fails at once (until the server has answered);
    # a temporary resolver failure and a handshake cut short are retried. No test raised any of these.
    sleeps = []
    c = ChatClient(Endpoint("m", "https://vlm.example/v1"), api_key_env=None, max_retries=2,
                   sleep=sleeps.append)
    answers = iter([])

    def post(data):
        answer = next(answers, None)
        if answer is None:
            raise urllib.error.URLError(reason)
        return answer

    monkeypatch.setattr(c, "_post", post)
    with pytest.raises(ChatError) as exc:
        c.complete("q", [IMG])
    # Fatal at once, or after the retries: no chat completion has come yet either way.
    assert isinstance(exc.value, ChatConfigError) and len(sleeps) == (0 if fatal else 2)
    # Once the server has answered, the same failure is a hiccup: retried, and the answer after it kept.
    ok = (200, {}, b'{"choices": [{"message": {"content": "ok"}}]}')
    answers = iter([ok, None, ok])
    sleeps.clear()
    assert c.complete("q1", [IMG]).content == "ok" and c.complete("q2", [IMG]).content == "ok"
    assert len(sleeps) == 1


def test_a_server_that_answered_before_is_retried_when_it_goes_away_and_stops_the_run_once_gone():
    # Retried as a hiccup; but a request none of whose attempts connected (refused all along) was one of
    # ten give-ups in a row the run waited out (~35 s each at the defaults, minutes on one episode) before
    # it stopped, playing fallbacks meanwhile: the server is gone, so the first such give-up stops it.
    sleeps = []
    with ChatServer([good("ok")]) as server:
        c = client(server, max_retries=2, sleep=sleeps.append)
        assert c.complete("q", [IMG]).content == "ok"
    with pytest.raises(ChatConfigError, match=r"gave up after 3 attempts; last: cannot reach .*refused.*no "
                       r"attempt could connect: the server has gone away.*without a cache"):
        c.complete("another", [IMG])
    assert len(sleeps) == 2 and c.stats.failures == 1


def test_a_give_up_stops_the_run_at_once_only_if_no_attempt_connected():
    # A give-up where the server answered once (a 502) is a hiccup of a server still there: the run
    # goes on (until give-ups in a row stop it, as before).
    with ChatServer([good("ok"), server_error(502)]) as server:
        c = client(server, max_retries=1, sleep=lambda s: server.__exit__())  # gone after the 502
        assert c.complete("q", [IMG]).content == "ok"
        with pytest.raises(ChatError, match=r"gave up after 2 attempts; last: cannot reach") as exc:
            c.complete("another", [IMG])
    assert type(exc.value) is ChatError


@pytest.mark.parametrize("error, gone", [
    (urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")), True),
    (urllib.error.URLError(TimeoutError("timed out")), True),  # no connection within --timeout
    (urllib.error.URLError(OSError(errno.EHOSTUNREACH, "No route to host")), True),
    (urllib.error.URLError(OSError(errno.ENETUNREACH, "Network is unreachable")), True),
    (urllib.error.URLError(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")), True),
    (TimeoutError("timed out"), False),  # the request was taken, its answer came too late
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), False),  # reached, then dropped
    (urllib.error.URLError(BrokenPipeError(errno.EPIPE, "Broken pipe")), False),  # closed while sending
    (urllib.error.URLError(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")), False),
])
def test_only_attempts_that_never_connected_stop_the_run_at_their_give_up(monkeypatch, error, gone):
    c = ChatClient(Endpoint("m", "http://vlm.example/v1"), api_key_env=None, max_retries=1,
                   sleep=lambda s: None)
    answers = iter([(200, {}, b'{"choices": [{"message": {"content": "ok"}}]}')])

    def post(data):
        answer = next(answers, None)
        if answer is None:
            raise error
        return answer

    monkeypatch.setattr(c, "_post", post)
    assert c.complete("q", [IMG]).content == "ok"
    with pytest.raises(ChatError) as exc:
        c.complete("another", [IMG])
    assert isinstance(exc.value, ChatConfigError) is gone
    assert ("no attempt could connect" in str(exc.value)) is gone


def test_a_server_gone_mid_run_stops_the_run_after_give_ups_in_a_row_and_an_answer_restarts_the_count(
        monkeypatch):
    # Once the server had answered, every later give-up was a ChatError the run played a fallback for, each
    # costing the whole backoff: a server gone mid-run kept a run going for hours.
    import agents.vlm_client

    monkeypatch.setattr(agents.vlm_client, "GIVE_UPS_TO_STOP", 3)
    replies = [good("ok"), server_error(502), server_error(502), good("back"), server_error(502),
               server_error(502), server_error(502)]
    with ChatServer(replies) as server:
        c = client(server, max_retries=0)
        assert c.complete("q0", [IMG]).content == "ok"
        for k in (1, 2):
            with pytest.raises(ChatError, match="gave up after 1 attempt") as exc:
                c.complete(f"q{k}", [IMG])
            assert type(exc.value) is ChatError
        assert c.complete("q3", [IMG]).content == "back"  # an answer: the count starts again
        for k in (4, 5):
            with pytest.raises(ChatError) as exc:
                c.complete(f"q{k}", [IMG])
            assert type(exc.value) is ChatError
        with pytest.raises(ChatConfigError, match=r"HTTP 502.*3 requests in a row given up after every "
                           r"retry: the server has stopped answering.*without a cache \(--no-cache\)"):
            c.complete("q6", [IMG])
    assert c.stats.failures == 5


def test_the_tenth_give_up_in_a_row_stops_the_run_not_the_ninth():
    # The README: "Ten requests in a row given up so, with no answer from the server between, stop the run".
    with ChatServer([good("ok")], default=lambda body: server_error(502)) as server:
        c = client(server, max_retries=0)
        assert c.complete("q0", [IMG]).content == "ok"
        for k in range(1, 10):
            with pytest.raises(ChatError) as exc:
                c.complete(f"q{k}", [IMG])
            assert type(exc.value) is ChatError, k
        with pytest.raises(ChatConfigError, match="10 requests in a row given up"):
            c.complete("q10", [IMG])


def test_a_rate_limit_on_every_try_before_any_answer_says_so_not_that_the_server_may_be_down():
    # A server answering HTTP 429 to every try is up and limiting the request rate: the error asked "is the
    # server up and done loading the model?", pointing away from --concurrency.
    with ChatServer(default=lambda body: rate_limited("0")) as server:
        c = client(server, max_retries=2)
        with pytest.raises(ChatConfigError, match=r"gave up after 3 attempts; last: HTTP 429: slow down "
                           r"\(the server is limiting the request rate.*lower --concurrency.*--retries"
                           ) as exc:
            c.complete("q", [IMG])
    assert "done loading" not in str(exc.value) and server.hits == 3


def test_rate_limits_that_stop_a_run_mid_way_say_so_not_that_the_server_stopped_answering(monkeypatch):
    import agents.vlm_client

    monkeypatch.setattr(agents.vlm_client, "GIVE_UPS_TO_STOP", 2)
    with ChatServer([good("ok")], default=lambda body: rate_limited("0")) as server:
        c = client(server, max_retries=0)
        assert c.complete("q0", [IMG]).content == "ok"
        with pytest.raises(ChatError) as exc:
            c.complete("q1", [IMG])
        assert type(exc.value) is ChatError
        with pytest.raises(ChatConfigError, match=r"HTTP 429.*2 requests in a row given up after every "
                           r"retry: the server is limiting the request rate.*lower --concurrency.*--retries"
                           r".*without a cache") as exc:
            c.complete("q2", [IMG])
    assert "stopped answering" not in str(exc.value)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(status):
    with ChatServer([bad_request(status)]) as server:
        c = client(server)
        with pytest.raises(ChatConfigError, match=f"HTTP {status}: model 'x' does not exist"):
            c.complete("q", [IMG])
    # Counted as every other failed call is (a 401 or 404 that ended the run was missing from "failures").
    assert server.hits == 1 and c.stats.failures == 1


@pytest.mark.parametrize("status", [401, 403])  # a proxy or OpenAI's project keys answer 403
def test_a_refused_key_names_the_variable_it_is_read_from(monkeypatch, status):
    monkeypatch.delenv("MY_VLM_KEY", raising=False)
    with ChatServer(default=lambda body: bad_request(status, "You didn't provide an API key.")) as server:
        with pytest.raises(ChatConfigError, match=r"no API key was sent: \$MY_VLM_KEY is unset"):
            client(server, api_key_env="MY_VLM_KEY").complete("q", [IMG])
        monkeypatch.setenv("MY_VLM_KEY", "sk-wrong")
        with pytest.raises(ChatConfigError, match=r"the key from \$MY_VLM_KEY was refused.*--api-key-env"):
            client(server, api_key_env="MY_VLM_KEY").complete("q", [IMG])
        monkeypatch.setenv("MY_VLM_KEY", "")  # set but empty: no key is sent, so none was "refused"
        with pytest.raises(ChatConfigError, match=r"no API key was sent: \$MY_VLM_KEY is unset or empty"):
            client(server, api_key_env="MY_VLM_KEY").complete("q", [IMG])
        with pytest.raises(ChatConfigError, match=r"no API key was sent \(--api-key-env names no variable\)"):
            client(server, api_key_env=None).complete("q", [IMG])
        with pytest.raises(ChatConfigError, match="the API key given was refused"):
            client(server, api_key="sk-given").complete("q", [IMG])


@pytest.mark.parametrize("key", ["sk-secret\r", "sk-secret\n", "\u201csk-secret\u201d"])
def test_a_key_no_header_can_carry_is_refused_before_any_request_without_showing_it(key, monkeypatch):
    # A key with a line break (a .env file written on Windows) failed the first request with http.client's
    # "Invalid header value b'Bearer sk-...'": the key itself on the terminal, and in CI logs.
    monkeypatch.setenv("MY_VLM_KEY", key)
    with pytest.raises(ValueError, match=r"\$MY_VLM_KEY holds a character no HTTP header") as exc:
        ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"), api_key_env="MY_VLM_KEY")
    assert "sk-secret" not in str(exc.value)
    with pytest.raises(ValueError, match="the API key given holds") as exc:
        ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"), api_key=key)
    assert "sk-secret" not in str(exc.value)


@pytest.mark.parametrize("status", [400, 413, 422])  # 413: a body too large; 422: FastAPI's validation
def test_a_request_refused_as_too_long_points_at_the_request_settings_not_the_key(status):
    message = ("This model's maximum context length is 4096 tokens. However, you requested 5120 tokens "
               "(1024 in the messages, 4096 in the completion).")
    with ChatServer([bad_request(status, message)]) as server, pytest.raises(ChatConfigError) as exc:
        client(server).complete("q", [IMG])
    assert message in str(exc.value) and "--max-tokens" in str(exc.value) and "--extra-body" in str(exc.value)
    assert "API key" not in str(exc.value)


def test_a_temperature_the_server_refuses_is_named_among_the_settings_to_check():
    # No bound is set here (vLLM takes any temperature >= 0, OpenAI up to 2): the server's 400 says it,
    # and the hint named --max-tokens and --extra-body but not --temperature.
    message = "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 50 instead."
    with ChatServer([bad_request(400, message)]) as server, pytest.raises(ChatConfigError) as exc:
        client(server, temperature=50.0).complete("q", [IMG])
    assert message in str(exc.value) and "--temperature" in str(exc.value)


@pytest.mark.parametrize("param, message", [
    ("max_tokens", "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                   "'max_completion_tokens' instead."),
    ("temperature", "Unsupported value: 'temperature' does not support 0 with this model. Only the default "
                    "(1) value is supported."),
])
def test_an_openai_reasoning_model_refusing_a_setting_is_told_the_extra_body_that_fixes_it(param, message):
    # OpenAI's o-series and gpt-5 answer 400 {"error": {"message", "type", "param", "code"}} naming the field;
    # the hint said to check --max-tokens, which no value of fixes: the field itself must go.
    code = "unsupported_parameter" if param == "max_tokens" else "unsupported_value"
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                 "code": code}}).encode()
    with ChatServer([Reply(status=400, body=body)]) as server, pytest.raises(ChatConfigError) as exc:
        client(server, max_tokens=2048).complete("q", [IMG])
    assert message in str(exc.value)
    assert ("""--extra-body '{"max_tokens": null, "max_completion_tokens": 2048, "temperature": null}'"""
            in str(exc.value))


def test_the_extra_body_hint_keeps_the_users_own_fields_and_budget():
    # The hint is pasted as --extra-body, which replaces the one given: it dropped a reasoning_effort given
    # there, and a value with a quote broke its shell quoting. The budget is the max_completion_tokens given.
    body = json.dumps({"error": {"message": "Unsupported parameter: 'max_tokens'", "param": "max_tokens",
                                 "type": "invalid_request_error", "code": "unsupported_parameter"}}).encode()
    extra = {"max_completion_tokens": 4096, "reasoning_effort": "low", "stop": ["don't"]}
    with ChatServer([Reply(status=400, body=body)]) as server, pytest.raises(ChatConfigError) as exc:
        client(server, max_tokens=2048, extra_body=extra).complete("q", [IMG])
    hint = re.search(r"pass --extra-body (.+?)\)?$", str(exc.value)).group(1)
    assert json.loads(shlex.split(hint)[0]) == {"max_tokens": None, "max_completion_tokens": 4096,
                                                 "temperature": None, "reasoning_effort": "low",
                                                 "stop": ["don't"]}


def test_a_field_refused_for_its_value_gets_the_settings_hint_not_the_extra_body_one():
    # OpenAI's max_tokens over the model's limit names the field too, with code invalid_value: a smaller
    # --max-tokens fixes it, not dropping the field.
    message = "max_tokens is too large: 200000. This model supports at most 16384 completion tokens."
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": "max_tokens",
                                 "code": "invalid_value"}}).encode()
    with ChatServer([Reply(status=400, body=body)]) as server, pytest.raises(ChatConfigError) as exc:
        client(server, max_tokens=200000).complete("q", [IMG])
    assert message in str(exc.value) and "--max-tokens" in str(exc.value)
    assert "--extra-body '" not in str(exc.value)


@pytest.mark.parametrize("status, message", [
    # llama.cpp's llama-server
    (500, "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"),
    (500, "this model is missing data required for image input"),  # Ollama
    # A refusal with a 4xx got the hint of a wrong model name, URL or key: mlx_lm.server (text only)
    # answers 404, vLLM 0.34 serving a text-only model 400 (renderers/base.py, multimodal/registry.py).
    (404, "Only 'text' content type is supported."),
    (400, "Multi-modal processor not available for text-only models"),
    (400, "Qwen/Qwen2.5-7B-Instruct is not a multimodal model"),
])
def test_a_server_error_saying_the_model_takes_no_images_fails_at_once(status, message):
    # llama-server started without --mmproj throws a runtime_error in oaicompat_chat_params_parse, which its
    # ex_wrapper answers as HTTP 500: retried with backoff (~35 s), then blamed on a server still loading.
    body = json.dumps({"error": {"code": status, "message": message, "type": "server_error"}}).encode()
    with (ChatServer(default=lambda b: Reply(status=status, body=body)) as server,
          pytest.raises(ChatConfigError, match=f"refused the request with HTTP {status}") as exc):
        client(server, max_retries=3).complete("q", [IMG])
    assert server.hits == 1
    assert message in str(exc.value) and "takes no images" in str(exc.value) and "--mmproj" in str(exc.value)


@pytest.mark.parametrize("body, message", [
    (b'{"object": "error", "message": "The model `foo` does not exist.", "type": "NotFoundError", '
     b'"param": null, "code": 404}', "HTTP 404: The model `foo` does not exist. (check"),  # older vLLM
    (b'{"detail": "Not Found"}', "HTTP 404: Not Found (check"),  # FastAPI: a URL without /v1
    (b'{"error": "model \'foo\' not found"}', "HTTP 404: model 'foo' not found (check"),  # a bare string
    # A lone surrogate (half an emoji) in the message becomes U+FFFD, so the message can be written as UTF-8.
    (b'{"error": {"message": "model \\ud83d not found"}}', "HTTP 404: model \ufffd not found (check"),
    # Gemini's OpenAI-compatible endpoint wraps its error in a list, pretty-printed: its start, cut at 160
    # characters, was quoted instead, the message cut short.
    pytest.param(json.dumps([{"error": {
        "code": 404, "status": "NOT_FOUND", "message": "models/foo is not found for API version v1main, or "
        "is not supported for generateContent. Call ListModels to see the list of available models and "
        "their supported methods."}}], indent=2).encode(),
        "HTTP 404: models/foo is not found for API version v1main, or is not supported for generateContent. "
        "Call ListModels to see the list of available models and their supported methods. (check",
        id="gemini"),
])
def test_error_bodies_of_other_servers_give_their_message(body, message):
    with ChatServer([Reply(status=404, body=body)]) as server, \
            pytest.raises(ChatConfigError, match=re.escape(message)):
        client(server).complete("q", [IMG])


def test_an_error_wrapped_in_a_list_is_read_for_its_code_as_for_its_message():
    # One parse of the error body for every reader: the message was read from a list's first item (Gemini's
    # form), the code that tells an account out of quota (and a refused field) only from a bare object, so
    # that 429 was retried with backoff, then blamed on a server not up or still loading.
    body = json.dumps([{"error": {"message": "You exceeded your current quota.",
                                  "code": "insufficient_quota"}}]).encode()
    said = r"HTTP 429: You exceeded your current quota\. \(the account is out of quota"
    with (ChatServer(default=lambda b: Reply(status=429, body=body)) as server,
          pytest.raises(ChatConfigError, match=said)):
        client(server, max_retries=1).complete("q", [IMG])
    assert server.hits == 1


@pytest.mark.parametrize("status", [404, 200, 500])
def test_a_servers_error_message_is_shown_on_one_line_with_its_control_characters_escaped(status):
    # The message of {"error": {"message": ...}} was shown as sent: a server's escape sequences cleared the
    # terminal and retitled its window, and its newlines began lines of their own in the error.
    sent = "model \x1b[2J\x1b]0;pwned\x07nope\nerror: forged\u202e not found \ud83d"
    body = json.dumps({"error": {"message": sent}}).encode()
    with ChatServer([Reply(status=status, body=body)]) as server, pytest.raises(ChatError) as exc:
        client(server, max_retries=0).complete("q", [IMG])
    shown = str(exc.value)
    assert "model \\x1b[2J\\x1b]0;pwned\\x07nope error: forged\\u202e not found \ufffd" in shown, shown
    assert "\n" not in shown and all(c.isprintable() for c in shown)


def test_a_servers_error_message_is_cut_at_1000_characters():
    # The README: a server's error message is shown cut at 1,000 characters, which a validation error's long
    # message fits: one of 1,000 is shown whole, a longer one cut and marked.
    whole, long = "w" * 996 + " end", "v" * 1500
    shown = []
    with ChatServer([bad_request(404, whole), bad_request(404, long)]) as server:
        for _ in range(2):
            with pytest.raises(ChatConfigError) as exc:
                client(server).complete("q", [IMG])
            shown.append(str(exc.value))
    assert f"HTTP 404: {whole} (check" in shown[0]
    assert f"HTTP 404: {'v' * 1000} … (check" in shown[1]


def test_a_body_nested_too_deeply_for_the_json_reader_is_no_chat_completion_not_a_crash():
    # json.loads raises RecursionError, no ValueError, past ~1,000 levels: it escaped complete() and ended
    # the run with a traceback, where any other body that is no chat completion is a ChatError.
    deep = b"[" * 100_000
    replies = [Reply(body=deep), good("ok"), Reply(status=500, body=deep), Reply(body=deep),
               Reply(body=b'{"choices": ' + deep)]  # an object, so also read for a body cut short
    with ChatServer(replies) as server:
        c = client(server, max_retries=0)
        with pytest.raises(ChatConfigError, match=r"HTTP 200 but not a chat completion \(not JSON\)"):
            c.complete("q0", [IMG])
        assert c.complete("q1", [IMG]).content == "ok"
        for k in (2, 3, 4):
            with pytest.raises(ChatError, match=r"gave up after 1 attempt; last: HTTP (500|200)") as exc:
                c.complete(f"q{k}", [IMG])
            assert type(exc.value) is ChatError


def test_an_error_body_that_is_no_json_is_quoted_on_one_line():
    # A proxy's HTML error page was copied into the message as it came, line breaks and all.
    page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>\r\n"
    with ChatServer(default=lambda body: Reply(status=502, body=page)) as server, \
            pytest.raises(ChatError, match=re.escape(
                "last: HTTP 502: '<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body> "
                "</html>'")) as exc:
        client(server, max_retries=0).complete("q", [IMG])
    assert "\n" not in str(exc.value) and "\r" not in str(exc.value)
    with ChatServer([Reply(status=404, body=b"")]) as server, \
            pytest.raises(ChatConfigError, match="HTTP 404: an empty body"):
        client(server).complete("q", [IMG])


def test_a_bodys_start_is_quoted_on_one_line_and_says_when_it_goes_on():
    from agents.vlm_client import _excerpt
    assert _excerpt(b" \r\n") == "an empty body"  # only white space: nothing to quote
    assert _excerpt(b"x" * 160) == repr("x" * 160)  # all of it, so no ellipsis
    assert _excerpt(b"x" * 161) == repr("x" * 160) + " …"  # the first 160 bytes, and it goes on
    assert _excerpt(b"\xff<p>") == repr("\ufffd<p>")  # a byte that is no UTF-8 is shown, not dropped


def test_a_cut_one_line_text_never_splits_an_escape():
    # Cut after escaping, '\x1b' came out as '\x1', which reads as some other character.
    from agents.vlm_client import one_line
    assert one_line("ab\x1bcd", 5) == "ab …"  # the escape would end past 5: left out whole
    assert one_line("ab\x1bcd", 6) == "ab\\x1b …"
    assert one_line("ab\x1bcd", 8) == "ab\\x1bcd"  # all of it fits: no ellipsis
    assert one_line("abcdef", 3) == "abc …"


def test_cache_answers_repeat_questions_without_a_request(tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    with ChatServer(default=lambda body: Reply(content=f"answer {len(body['messages'][0]['content'])}",
                                               prompt_tokens=50, completion_tokens=5)) as server:
        c = client(server, cache=cache)
        first = c.complete("q", [IMG])
        again = c.complete("q", [IMG.copy()])
        assert server.hits == 1
        assert again.cached and not first.cached
        assert (again.content, again.prompt_tokens, again.completion_tokens) == (first.content, 50, 5)
        # The answer's own latency, kept in the entry (compare's latency figures count cached answers too).
        assert again.latency_s == first.latency_s > 0
        other = IMG.copy()
        other[0, 0] = 1
        c.complete("q", [other])  # another image
        c.complete("q2", [IMG])  # another prompt
        client(server, cache=cache, max_tokens=5).complete("q", [IMG])  # other generation settings
        ChatClient(Endpoint("other-model", server.url), api_key_env=None, cache=cache).complete("q", [IMG])
        assert server.hits == 5
        # A fresh client (a re-run) on the same cache folder sends nothing.
        c2 = client(server, cache=ResponseCache(tmp_path / "cache"))
        assert c2.complete("q2", [IMG]).cached and server.hits == 5
        assert c2.stats.as_dict()["http_requests"] == 0 and c2.stats.cache_hits == 1
    assert len(cache) == 5
    entry = next((tmp_path / "cache").glob("*/*.json"))
    (entry.parent / f".{entry.stem}.1.tmp.json").write_text("{")  # a put killed mid-write: no entry
    assert len(cache) == 5


def test_the_cache_keys_a_request_by_every_image_not_only_the_first(tmp_path):
    # Two frames with the same first image are two questions: keyed on the first alone, the second would be
    # answered from the cache with the first one's answer.
    other = IMG.copy()
    other[0, 0] = (0, 0, 255)
    with ChatServer([good("same"), good("other")]) as server:
        c = client(server, cache=ResponseCache(tmp_path))
        assert c.complete("q", [IMG, IMG]).content == "same"
        reply = c.complete("q", [IMG, other])
    assert (reply.content, reply.cached, server.hits) == ("other", False, 2)


@pytest.mark.parametrize("latency", [None, "slow", "nan", "inf", -1.0])
def test_a_cached_entry_with_an_odd_latency_is_still_a_hit(tmp_path, latency):
    # A hand-edited entry whose "latency_s" is not a number raised TypeError/ValueError in a worker thread.
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: Reply(content="fine")) as server:
        client(server, cache=cache).complete("q", [IMG])
        (entry,) = tmp_path.rglob("*.json")
        value = json.loads(entry.read_text())
        value["latency_s"] = latency
        entry.write_text(json.dumps(value))
        again = client(server, cache=cache).complete("q", [IMG])
    assert (again.content, again.cached, again.latency_s, server.hits) == ("fine", True, 0.0, 1)


def test_a_corrupt_cache_entry_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: good("fine")) as server:
        client(server, cache=cache).complete("q", [IMG])
        (entry,) = tmp_path.glob("*/*.json")
        entry.write_text("{not json")
        assert not client(server, cache=cache).complete("q", [IMG]).cached
        assert server.hits == 2
    assert not list(tmp_path.glob("*/*.tmp"))


def test_a_cache_entry_nested_past_json_s_depth_is_a_miss(tmp_path):
    # json's RecursionError on it was a traceback out of evaluate --vlm and compare.
    cache = ResponseCache(tmp_path)
    key = "ab" + "0" * 38
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / f"{key}.json").write_text("[" * 100_000)
    assert cache.get(key) is None


def test_a_cache_entry_without_text_content_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: good("fine")) as server:
        client(server, cache=cache).complete("q", [IMG])
        (entry,) = tmp_path.glob("*/*.json")
        entry.write_text(entry.read_text().replace('"content": "fine"', '"content": null'))
        assert '"content": null' in entry.read_text()
        reply = client(server, cache=cache).complete("q", [IMG])
        assert (reply.content, reply.cached, server.hits) == ("fine", False, 2)


def test_an_answer_the_full_disk_cannot_cache_is_still_used(tmp_path, monkeypatch, capsys):
    import errno

    import agents.vlm_cache

    def disk_full(value, f, **kwargs):  # the cache folder's disk fills while an answer is stored
        f.write('{"model": ')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agents.vlm_cache.json, "dump", disk_full)
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: good("fine")) as server:
        c = client(server, cache=cache)
        assert c.complete("q", [IMG]).content == "fine"  # the answer paid for is not lost
        assert c.complete("q2", [IMG]).content == "fine"
    err = capsys.readouterr().err
    assert err.count(f"warning: cannot cache answers in {tmp_path} (No space left on device)") == 1
    assert len(cache) == 0 and not [p for p in tmp_path.rglob("*") if p.is_file()]  # no temp file either


def test_extra_body_adds_overrides_and_drops_request_fields(tmp_path):
    import argparse

    from agents.vlm_client import add_client_arguments, client_from_args

    p = argparse.ArgumentParser()
    add_client_arguments(p)
    with ChatServer([good("ok")]) as server:
        args = p.parse_args(["--extra-body", '{"max_tokens": null, "max_completion_tokens": 64, "top_k": 1}',
                             "--no-cache"])
        client_from_args(f"o-mini@{server.url}", args).complete("q", [IMG])
    body = server.requests[0]
    assert "max_tokens" not in body and body["max_completion_tokens"] == 64 and body["top_k"] == 1
    # "stream": true made the first (paid) answer a stream of events, refused as a wrong URL.
    for bad, message in (("[1]", "JSON object"), ("{", "not JSON"), ('{"model": "x"}', "cannot set model"),
                         ('{"messages": []}', "cannot set model or messages"),
                         ('{"stream": true}', "cannot set stream: each answer is read whole"),
                         ("[" * 100_000, "nests too deeply")):  # was json's RecursionError, a traceback
        with pytest.raises(ValueError, match=message):
            client_from_args("m@http://127.0.0.1:9/v1", p.parse_args(["--extra-body", bad]))
    # "stream": false asks for what is read anyway, a whole answer: taken and sent.
    kept = client_from_args("m@http://127.0.0.1:9/v1", p.parse_args(["--extra-body", '{"stream": false}',
                                                                     "--no-cache"]))
    assert kept.settings["stream"] is False


def test_the_endpoint_flags_and_a_clients_own_defaults_are_the_documented_ones():
    # The README: --retries 5, --timeout 120 s, --concurrency 8, --max-tokens 1024, --temperature 0, the key
    # in $OPENAI_API_KEY; a client made in code (a notebook) waits and retries as the command line does.
    args = _client_args()
    assert (args.retries, args.timeout, args.concurrency, args.max_tokens, args.temperature,
            args.api_key_env) == (5, 120.0, 8, 1024, 0.0, "OPENAI_API_KEY")
    c = ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"))
    assert (c.max_retries, c.timeout, c.api_key_env, c.settings) == (
        args.retries, args.timeout, args.api_key_env, {"max_tokens": 1024, "temperature": 0.0})
    # The backoff: 1 s doubling, at most 60 s, and a Retry-After honoured up to 300 s.
    assert (c.backoff, c.max_backoff, c.max_retry_after) == (1.0, 60.0, 300.0)
    assert c.max_response_bytes == 4 << 20  # a response is read up to 4 MiB


def _client_args(*argv):
    import argparse

    from agents.vlm_client import add_client_arguments

    p = argparse.ArgumentParser()
    add_client_arguments(p)
    return p.parse_args(list(argv))


def test_retries_help_names_every_status_retried():
    # It said "429/5xx/timeouts" while 408, 409 and 425 were retried too.
    import argparse

    from agents.vlm_client import RETRY_STATUS, add_client_arguments

    p = argparse.ArgumentParser()
    add_client_arguments(p)
    text = next(a.help for a in p._actions if "--retries" in a.option_strings)
    assert all(str(code) in text for code in RETRY_STATUS) and "5xx" in text


@pytest.mark.parametrize("argv, message", [
    (["--timeout", "nan"], "--timeout must be a finite number"),
    (["--timeout", "inf"], "--timeout must be a finite number"),
    (["--timeout", "0"], "--timeout must be a finite number"),
    # 1e10 s was taken, and the first request's socket.settimeout failed with an OverflowError traceback
    (["--timeout", "1e10"], r"--timeout must be .* at most 1e\+09 seconds"),
    (["--temperature", "nan"], "--temperature must be a finite number"),
    (["--temperature", "-1"], "--temperature must be a finite number"),
    (["--temperature", "inf"], "--temperature must be a finite number"),
])
def test_bad_numbers_are_refused_naming_the_flag(argv, message):
    from agents.vlm_client import client_from_args

    with pytest.raises(ValueError, match=message):
        client_from_args("m@http://127.0.0.1:9/v1", _client_args(*argv, "--no-cache"))


def test_the_command_lines_temperature_and_key_variable_reach_the_request(monkeypatch):
    # --temperature and --api-key-env are read where the client is made from the command line: dropped
    # there, every request went out at temperature 0 with the key from $OPENAI_API_KEY.
    from agents.vlm_client import client_from_args

    monkeypatch.setenv("MY_VLM_KEY", "sk-mine")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    with ChatServer([good("ok")]) as server:
        args = _client_args("--temperature", "0.7", "--api-key-env", "MY_VLM_KEY", "--no-cache")
        client_from_args(f"m@{server.url}", args).complete("q", [IMG])
    assert server.requests[0]["temperature"] == 0.7
    assert server.headers[0]["Authorization"] == "Bearer sk-mine"


def test_the_smallest_settings_are_taken_and_a_client_refuses_negative_ones():
    from agents.vlm_client import client_from_args

    c = client_from_args("m@http://127.0.0.1:9/v1", _client_args("--retries", "0", "--max-tokens", "1",
                                                                  "--concurrency", "1", "--no-cache"))
    assert (c.max_retries, c.settings["max_tokens"]) == (0, 1)  # one attempt, no retry
    for bad in ({"max_retries": -1}, {"backoff": -1.0}, {"timeout": 0.0}, {"timeout": 1e10}):
        with pytest.raises(ValueError, match="max_retries and backoff >= 0"):
            ChatClient("m@http://127.0.0.1:9/v1", api_key_env=None, **bad)


def test_the_largest_timeout_is_taken_and_fits_a_socket():
    import socket

    from agents.vlm_client import MAX_TIMEOUT_S, client_from_args

    c = client_from_args("m@http://127.0.0.1:9/v1", _client_args("--timeout", "1e9", "--no-cache"))
    assert c.timeout == MAX_TIMEOUT_S == 1e9
    assert ChatClient("m@http://127.0.0.1:9/v1", api_key_env=None, timeout=MAX_TIMEOUT_S).timeout == 1e9
    with socket.socket() as s:  # what each request sets: 1e10 raised OverflowError here
        s.settimeout(MAX_TIMEOUT_S)


def test_the_cache_dir_is_checked_before_any_request(tmp_path, monkeypatch):
    from agents.vlm_client import client_from_args

    spec = "m@http://127.0.0.1:9/v1"
    file = tmp_path / "file"
    file.write_text("mine")
    for where, message in ((file, "--cache-dir .* is a file"), (file / "sub", "cannot be used.*--no-cache")):
        with pytest.raises(ValueError, match=message):
            client_from_args(spec, _client_args("--cache-dir", str(where)))
    assert file.read_text() == "mine"
    c = client_from_args(spec, _client_args("--cache-dir", str(tmp_path / "new" / "vlm")))
    assert c.cache is not None and not (tmp_path / "new").exists()  # made by the first answer cached
    c.cache.put("ab" * 32, {"content": "x"})
    assert c.cache.get("ab" * 32) == {"content": "x"}
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", str(file))
    with pytest.raises(ValueError, match=r"\$DEPTHFIRST_VLM_CACHE .* is a file.*--no-cache"):
        client_from_args(spec, _client_args())
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", str(tmp_path / "deep" / "er"))  # the default: parents later
    assert client_from_args(spec, _client_args()).cache.root == tmp_path / "deep" / "er"


def test_a_malformed_endpoint_is_refused_before_the_cache_folder_is_made(tmp_path, monkeypatch):
    # `evaluate.py --env snake --vlm just-a-name` made ~/.cache/depthfirst/vlm and only then refused the
    # endpoint: found by the parallel-test audit, as test_evaluate_script_rejects_bad_vlm_input left that
    # folder in the tester's home.
    from agents.vlm_client import client_from_args

    cache = tmp_path / "cache"
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", str(cache))
    for spec in ("just-a-name", "m@http://127.0.0.1:99999/v1"):
        with pytest.raises(ValueError, match=r"MODEL@URL|Port out of range"):
            client_from_args(spec, _client_args())
        with pytest.raises(ValueError):
            client_from_args(spec, _client_args("--cache-dir", str(tmp_path / "flag")))
    assert not cache.exists() and not (tmp_path / "flag").exists()


def test_the_cache_dir_expands_a_tilde_and_refuses_an_empty_path(tmp_path, monkeypatch, capsys):
    # --cache-dir=~/x (bash expands no ~ after "=") made a folder named "~" in the current one, and an
    # empty --cache-dir silently fell back to the default cache, unlike every other path flag.
    from agents.vlm_client import client_from_args

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    c = client_from_args("m@http://127.0.0.1:9/v1", _client_args("--cache-dir=~/vlm"))
    assert c.cache.root == tmp_path / "home" / "vlm"
    assert not (tmp_path / "~").exists()
    with pytest.raises(SystemExit):
        _client_args("--cache-dir=")
    assert "--cache-dir: is empty" in capsys.readouterr().err
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", "~/cache")  # quoted in the shell: the ~ left to us
    c = client_from_args("m@http://127.0.0.1:9/v1", _client_args())
    assert c.cache.root == tmp_path / "home" / "cache"
    assert not (tmp_path / "~").exists()


def test_image_detail_is_sent_in_every_image_part_and_keys_the_cache(tmp_path):
    from agents.vlm_client import client_from_args

    cache = ["--cache-dir", str(tmp_path / "cache")]
    with ChatServer(default=lambda body: good("ok")) as server:
        client_from_args(f"m@{server.url}", _client_args(*cache)).complete("q", [IMG, IMG])
        client_from_args(f"m@{server.url}", _client_args("--image-detail", "low", *cache)).complete(
            "q", [IMG, IMG])  # another request: its answer may differ
    plain, low = ([part for part in body["messages"][0]["content"] if part["type"] == "image_url"]
                  for body in server.requests)
    assert ["detail" in part["image_url"] for part in plain] == [False, False]  # as before: none sent
    assert [part["image_url"]["detail"] for part in low] == ["low", "low"]
    with pytest.raises(SystemExit):
        _client_args("--image-detail", "medium")


def test_the_cache_keys_a_picture_by_shape_and_dtype_too_and_reads_only_objects(tmp_path, monkeypatch):
    """image_digest covers shape, dtype and pixels (two pictures of the same bytes in another shape are two
    questions); a cache file holding JSON that is no object is a miss, as an unreadable one is; the cache
    lives under $XDG_CACHE_HOME when that is set and $DEPTHFIRST_VLM_CACHE is not."""
    from agents.vlm_cache import default_cache_dir, image_digest

    blank = np.zeros((2, 3), np.uint8)
    assert image_digest(blank) == image_digest(np.zeros((2, 3), np.uint8))
    assert image_digest(blank) != image_digest(np.zeros((3, 2), np.uint8))
    assert image_digest(blank) != image_digest(np.zeros((2, 3), np.int8))
    cache = ResponseCache(tmp_path / "cache")
    cache.put("ab12", {"text": "UP"})
    assert cache.get("ab12") == {"text": "UP"}
    for not_an_object in ("[1, 2]", '"UP"', "null"):
        (tmp_path / "cache" / "ab" / "ab12.json").write_text(not_an_object)
        assert cache.get("ab12") is None
    monkeypatch.delenv("DEPTHFIRST_VLM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "depthfirst" / "vlm"


@pytest.mark.parametrize("status", [408, 409, 425])
def test_408_409_and_425_are_retried_as_429_is(status):
    # README: retries on 429/5xx "(and 408, 409, 425)"; each is a moment's refusal, not a wrong setting.
    sleeps = []
    with ChatServer([bad_request(status, "try again"), good("ok")]) as server:
        c = client(server, max_retries=2, sleep=sleeps.append)
        assert c.complete("q", [IMG]).content == "ok"
    assert server.hits == 2 and c.stats.retries == 1 and len(sleeps) == 1 and c.stats.failures == 0


@pytest.mark.parametrize("status", [413, 422])
def test_a_413_or_422_after_answers_fails_that_request_only(status):
    # As a 400: too long for the context, an image a filter refuses; the run goes on without that answer.
    with ChatServer([good("first"), bad_request(status, "too long"), good("again")]) as server:
        c = client(server, max_retries=3)
        assert c.complete("q1", [IMG]).content == "first"
        with pytest.raises(ChatError, match=f"HTTP {status} for this request: too long") as exc:
            c.complete("q2", [IMG])
        assert type(exc.value) is ChatError
        assert c.complete("q3", [IMG]).content == "again"
    assert server.hits == 3 and c.stats.failures == 1


def test_the_backoff_doubles_up_to_max_backoff_with_a_quarter_jitter_and_no_wait_after_the_last(
        monkeypatch):
    # backoff · 2^attempt, capped at max_backoff, times 1 + 0.25 · random(); the last attempt's failure
    # raises at once (waiting before giving up only delays the fallback).
    monkeypatch.setattr("agents.vlm_client.random.random", lambda: 0.5)
    sleeps = []
    with ChatServer(default=lambda body: server_error(502)) as server:
        c = client(server, backoff=1.0, max_backoff=5.0, max_retries=4, sleep=sleeps.append)
        with pytest.raises(ChatError, match="gave up after 5 attempts"):
            c.complete("q", [IMG])
    assert server.hits == 5
    assert sleeps == pytest.approx([1.125, 2.25, 4.5, 5.625])


def test_a_thousand_retries_back_off_at_max_backoff_not_overflow(monkeypatch):
    # backoff · 2^attempt overflowed a float at attempt 1024: an OverflowError, not a ChatError, ended the
    # run of a user who gave --retries 2000 for "never give up" once the server had been down for hours.
    monkeypatch.setattr("agents.vlm_client.random.random", lambda: 0.0)
    sleeps = []
    c = ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"), api_key_env=None, max_retries=1100,
                   max_backoff=5.0, sleep=sleeps.append)

    def reset(data):
        raise ConnectionResetError("reset by peer")

    monkeypatch.setattr(c, "_post", reset)
    with pytest.raises(ChatError, match="gave up after 1101 attempts"):
        c.complete("q", [IMG])
    assert len(sleeps) == 1100 and sleeps[:3] == [1.0, 2.0, 4.0] and set(sleeps[3:]) == {5.0}


def test_a_negative_or_endless_retry_after_is_no_wait_asked_for():
    # retry-after-ms of -5 or inf falls back to retry-after; a negative retry-after to the backoff (a
    # negative wait sent the retry at once).
    sleeps = []
    script = [Reply(status=429, headers={"retry-after-ms": "-5", "retry-after": "2"}, body=b"{}"),
              Reply(status=429, headers={"retry-after-ms": "inf", "retry-after": "3"}, body=b"{}"),
              rate_limited("-4"), good("ok")]
    with ChatServer(script) as server:
        c = client(server, backoff=0.5, sleep=sleeps.append)
        assert c.complete("q", [IMG]).content == "ok"
    assert sleeps[:2] == [2.0, 3.0] and 0.5 * 4 <= sleeps[2] <= 0.5 * 4 * 1.25


def test_failed_requests_are_counted_by_kind():
    # compare's report keeps these counts: a timeout as "timeout", an oversized body as "too large", a
    # server gone away as "connection", each answered request by its status.
    with ChatServer([good("first"), good("late", delay=1.0), good("ok"), good("x" * 5000)]) as server:
        c = client(server, timeout=0.3, max_retries=1, sleep=lambda s: None)
        assert c.complete("q0", [IMG]).content == "first"
        assert c.complete("q1", [IMG]).content == "ok"
        c.max_response_bytes = 2000
        with pytest.raises(ChatError, match="over 2,000 bytes"):
            c.complete("q2", [IMG])
    with pytest.raises(ChatError, match="gave up after 2 attempts; last: cannot reach"):
        c.complete("q3", [IMG])
    stats = c.stats.as_dict()
    assert stats["status_counts"] == {"200": 2, "timeout": 1, "too large": 1, "connection": 2}
    assert (stats["timeouts"], stats["failures"], stats["retries"]) == (1, 2, 2)


def test_a_server_that_never_sends_its_headers_is_given_up_within_the_timeout():
    # README: a request is given up within twice --timeout at most; waiting for headers takes one.
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=0.4, max_retries=0)
        t0 = time.perf_counter()
        with pytest.raises(ChatError, match=r"no answer within 0\.4 s"):
            c.complete("q", [IMG])  # connected (the backlog accepts it), never answered
        assert time.perf_counter() - t0 < 0.8 and c.stats.timeouts == 1


def test_a_body_over_the_cap_is_refused_at_its_announced_length_or_its_first_byte_past():
    from agents.vlm_client import _read_until, _TooLarge

    class Body:
        def __init__(self, data: bytes, length: int | None) -> None:
            self.data, self.length, self.reads = data, length, 0

        def read1(self, n: int) -> bytes:
            self.reads += 1
            chunk, self.data = self.data[:n], self.data[n:]
            if self.length is not None:  # as http.client's: the bytes still to come
                self.length -= len(chunk)
            return chunk

    deadline = time.monotonic() + 60
    announced = Body(b"{}", 10_000_000)  # Content-Length over the cap: not one byte is read
    with pytest.raises(_TooLarge):
        _read_until(announced, deadline, limit=100)
    assert announced.reads == 0
    assert _read_until(Body(b"x" * 100, None), deadline, limit=100) == b"x" * 100  # the cap itself: read
    assert _read_until(Body(b"x" * 100, 100), deadline, limit=100) == b"x" * 100  # announced, too
    with pytest.raises(_TooLarge):
        _read_until(Body(b"x" * 101, None), deadline, limit=100)


@pytest.mark.parametrize("raw, cut", [
    (b'{"choices": [{"message": {"content": "UP"}, "logprobs": nu', True),  # inside null: vLLM sends logprobs
    (b'{"choices": [{"message": {"content": "UP", "refusal": null}, "tr', True),  # inside a key
    (b'{"choices": [{"message": {"content": "UP"}, "x": fals', True),
    (b'{"choices": [{"message": {"content": "UP"}}], ', True),
    (b'{"choices": [{"message": {"content": "UP"}}]}', False),  # whole
    (b'{"choices": [{"message": {"content": "UP"}, "x": nope', False),  # garbage, not cut short
    (b"<html>", False), (b"", False),
])
def test_a_body_is_cut_short_where_more_bytes_could_still_make_it_json(raw, cut):
    # A body dropped inside true/false/null is cut short (retried), not a first answer from a URL that is
    # no chat-completions endpoint; the tests cut bodies only inside a string or at the end.
    from agents.vlm_client import _cut_short

    assert _cut_short(raw) is cut


def test_client_flags_are_refused_without_vlm_only_when_set_away_from_their_defaults() -> None:
    # The check reads values, not whether a flag was typed: "--temperature 0" is the default, played alike.
    import argparse

    from agents.vlm_client import add_client_arguments, refuse_unused_client_flags

    p = argparse.ArgumentParser()
    p.add_argument("--vlm")
    add_client_arguments(p)
    refuse_unused_client_flags(p, p.parse_args(["--temperature", "0", "--max-tokens", "1024"]))
    refuse_unused_client_flags(p, p.parse_args(["--vlm", "m@http://x", "--temperature", "0.7"]))  # its flags
    with pytest.raises(SystemExit):
        refuse_unused_client_flags(p, p.parse_args(["--temperature", "0.7"]))


def test_one_endpoint_written_with_or_without_chat_completions_shares_its_cached_answers(tmp_path):
    # The key holds the URL requests go to: .../v1 and .../v1/chat/completions are one server, whose answers
    # a re-run written the other way must not pay for again.
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: good("UP")) as server:
        client(server, cache=cache).complete("q", [IMG])
        full = ChatClient(Endpoint.parse(f"test-vl-7b@{server.url}/chat/completions"), api_key_env=None,
                          cache=cache)
        assert full.complete("q", [IMG]).cached
    assert server.hits == 1


def test_the_cache_key_and_image_digest_are_pinned_so_a_cache_outlives_an_upgrade():
    # Pinned: a change to how a key is made (its JSON layout, a cut digest) makes every cached answer a
    # miss, and the next re-run asks (and pays for) all of them again. The README names only the keys
    # from before 2026-11-30 (no endpoint URL) as not reused; change these figures only with a note there.
    from agents.vlm_cache import cache_key, image_digest

    digest = image_digest(np.zeros((2, 3), np.uint8))
    assert digest == "86c97e2d05831a1c3f922e37d5d12a54816eb5a63aa61c02f7a9eccc65400520"
    request = {"model": "m", "max_tokens": 8, "img": digest}
    key = cache_key("http://127.0.0.1:8000/v1/chat/completions", request)
    assert key == "aee13fbdec3a748ccb01f01d888fb8608370975078444105767a7e16e8f4420e"


def test_the_cache_key_does_not_depend_on_the_order_of_extra_body_fields(tmp_path):
    # The same request body with its fields written in another order (--extra-body JSON) is the same question.
    cache = ResponseCache(tmp_path)
    with ChatServer(default=lambda body: good("UP")) as server:
        client(server, cache=cache, extra_body={"top_k": 1, "seed": 7}).complete("q", [IMG])
        again = client(server, cache=cache, extra_body={"seed": 7, "top_k": 1}).complete("q", [IMG])
    assert again.cached and server.hits == 1


def test_a_ctrl_c_while_an_answer_is_cached_stops_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    # Only an OSError (a full disk) is a warning and goes on; a Ctrl-C mid-write must still stop the run.
    import agents.vlm_cache

    def interrupted(value, f, **kwargs):
        f.write('{"model": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.vlm_cache.json, "dump", interrupted)
    cache = ResponseCache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        cache.put("ab12", {"content": "UP"})
    assert not cache.warned and cache.get("ab12") is None and not list(tmp_path.rglob("*.tmp"))


def test_the_temp_file_of_an_answer_a_killed_command_was_caching_goes_as_it_is_cached(tmp_path, capsys):
    # compare.py or evaluate.py --vlm killed outright (SIGKILL) while it cached an answer left the entry's
    # .<key>.<pid>[-<thread>].tmp.json in the cache for good; the re-run, missing that answer, asks and caches
    # it again. Those of a process that runs (this one's other threads too) may be written now: they stay.
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    folder = tmp_path / "ab"
    folder.mkdir()
    left = [f".ab12.{dead}.tmp.json", f".ab12.{dead}-7.tmp.json"]
    kept = [f".ab12.{running.pid}.tmp.json", f".ab12.{os.getpid()}-7.tmp.json", f".ab34.{dead}.tmp.json"]
    try:
        for name in left + kept:
            (folder / name).write_text('{"model": ')
        ResponseCache(tmp_path).put("ab12", {"content": "UP"})
    finally:
        running.kill()
        running.wait()
    assert sorted(p.name for p in folder.iterdir()) == sorted(["ab12.json", *kept])
    assert capsys.readouterr().err == (f"{folder}: removed 2 temp files that a killed command left "
                                       f"({', '.join(sorted(left))})\n")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, a folder no file can be made in")
def test_a_cache_dir_that_exists_but_takes_no_file_is_refused_before_any_request():
    from agents.vlm_cache import check_cache_dir

    with pytest.raises(ValueError, match=r"--cache-dir /proc cannot be used: [^\[]*; .*--no-cache"):
        check_cache_dir(Path("/proc"), "--cache-dir /proc")  # the reason in words, no "[Errno 2] ...: path"


def test_checking_the_cache_dir_leaves_no_file_in_it(tmp_path):
    from agents.vlm_cache import check_cache_dir

    check_cache_dir(tmp_path / "cache", "--cache-dir")
    assert list(tmp_path.iterdir()) == []  # not made either: the first answer cached makes it
    (tmp_path / "cache").mkdir()
    check_cache_dir(tmp_path / "cache", "--cache-dir")
    check_cache_dir(tmp_path / "cache", "--cache-dir")  # every run checks it: no probe file piles up
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_cache_size_counts_answers_only(tmp_path):
    # A put killed half-way (SIGKILL, a power cut) leaves its temporary file: not an answer.
    cache = ResponseCache(tmp_path)
    cache.put("ab12", {"content": "UP"})
    (tmp_path / "ab" / "ab12.jsonx1y2.tmp").write_text('{"content": ')
    assert len(cache) == 1


def test_an_answer_is_renamed_into_place_from_its_own_folder(tmp_path, monkeypatch):
    """Written to a temporary file and renamed (the module docstring): a temporary file in the system's
    temp folder cannot be renamed onto a cache folder on another disk (EXDEV): no answer would ever be
    cached there. Here a rename from another folder fails as it would across disks."""
    import os

    import agents.vlm_cache

    real = os.replace

    def replace(src, dst):
        if Path(src).parent != Path(dst).parent:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(agents.vlm_cache.os, "replace", replace)
    cache = ResponseCache(tmp_path)
    cache.put("ab12", {"content": "UP"})
    assert cache.get("ab12") == {"content": "UP"} and not cache.warned


def test_an_empty_cache_variable_counts_as_unset(tmp_path, monkeypatch):
    # An empty $DEPTHFIRST_VLM_CACHE or $XDG_CACHE_HOME (XDG's rule: empty is unset) names no folder: read
    # as one, the cache would land in the folder each command is run from.
    from agents.vlm_cache import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "depthfirst" / "vlm"


@pytest.mark.parametrize("xdg", ["cache", "./cache", "~/cache"])
def test_a_relative_xdg_cache_home_is_ignored_but_a_relative_depthfirst_vlm_cache_is_taken(
        tmp_path, monkeypatch, xdg):
    # The XDG Base Directory spec: a relative path in $XDG_CACHE_HOME is invalid and must be ignored. It
    # was used as it came, so the cache landed in whichever folder each command was run from.
    from agents.vlm_cache import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEPTHFIRST_VLM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "depthfirst" / "vlm"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "depthfirst" / "vlm"
    # Our own variable names the folder itself, as --cache-dir does: relative to the working folder.
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", "cache")
    assert default_cache_dir() == Path("cache")


def test_no_cache_neither_reads_nor_writes_the_cache(tmp_path, monkeypatch):
    from agents.vlm_client import client_from_args

    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", str(tmp_path / "cache"))
    with ChatServer(default=lambda body: good("UP")) as server:
        client_from_args(f"m@{server.url}", _client_args()).complete("q", [IMG])  # cached by default
        c = client_from_args(f"m@{server.url}", _client_args("--no-cache"))
        assert c.cache is None and not c.complete("q", [IMG]).cached
        c.complete("q2", [IMG])
    assert server.hits == 3 and len(ResponseCache(tmp_path / "cache")) == 1


def test_a_request_not_sent_because_the_run_stops_is_no_failed_call():
    # ChatCancelled is the run stopping, not the server failing: report.json's failures must not count it.
    from agents.vlm_client import ChatCancelled

    with ChatServer(default=lambda body: good("UP")) as server:
        c = client(server)
        c.cancel()
        with pytest.raises(ChatCancelled):
            c.complete("q", [IMG])
    assert server.hits == 0 and (c.stats.calls, c.stats.failures) == (1, 0)


def test_a_client_refuses_an_image_detail_the_api_has_not():
    # --image-detail's choices stop it on the command line; a notebook's ChatClient(...) call is stopped here.
    with pytest.raises(ValueError, match="image_detail must be one of None, low, high, auto, got 'medium'"):
        ChatClient("m@http://127.0.0.1:9/v1", api_key_env=None, image_detail="medium")


def test_odd_replies_to_retry_on_are_read_as_their_plain_kind():
    # A retry-after-ms that is no number falls back to retry-after; a 429 whose body is no JSON object (a
    # proxy's text page, a list) is a rate limit, retried, not an account out of quota; token counts of
    # another type count 0 and the answer is kept.
    sleeps = []
    body = json.dumps({"choices": [{"message": {"content": "ok"}}],
                       "usage": {"prompt_tokens": [3], "completion_tokens": "many"}}).encode()
    script = [Reply(status=429, headers={"retry-after-ms": "soon", "retry-after": "2"}, body=b"{}"),
              Reply(status=429, headers={"retry-after": "3"}, body=b"Too Many Requests"),
              Reply(status=429, headers={"retry-after": "4"}, body=b"[]"), Reply(body=body)]
    with ChatServer(script) as server:
        reply = client(server, sleep=sleeps.append).complete("q", [IMG])
    assert (reply.content, reply.prompt_tokens, reply.completion_tokens) == ("ok", 0, 0)
    assert sleeps == [2.0, 3.0, 4.0] and server.hits == 4


def test_a_cache_folder_that_cannot_be_made_is_said_once_and_the_answers_are_still_used(tmp_path, capsys):
    # The entry's subfolder cannot be made (here a file is in the way; a full disk, a folder made
    # read-only since the run began): a warning, the answer used, no error.
    (tmp_path / "cache").write_text("not a folder")
    cache = ResponseCache(tmp_path / "cache")
    with ChatServer(default=lambda body: good("fine")) as server:
        c = client(server, cache=cache)
        assert [c.complete(q, [IMG]).content for q in ("q", "q2")] == ["fine", "fine"]
    err = capsys.readouterr().err
    assert err.count(f"warning: cannot cache answers in {tmp_path / 'cache'} (") == 1 and server.hits == 2


def test_a_server_too_slow_for_the_timeout_is_told_to_raise_it():
    # Every attempt timed out: the server is up (it took the connection), only slower than --timeout (a
    # big model's first answer). The error said "is the server up?" and named no flag to change.
    release = threading.Event()
    with ChatServer(default=lambda body: Reply("late", hold=release)) as server:
        c = client(server, timeout=0.2, max_retries=1)
        try:
            with pytest.raises(ChatConfigError, match=r"no answer within 0\.2 s.*raise --timeout"):
                c.complete("q", [IMG])
            # Once answers have come, a timed-out request fails alone, and still says which flag bounds it.
            release.set()
            c.timeout = 2.0
            assert c.complete("q2", [IMG]).content == "late"
            release.clear()
            c.timeout = 0.2
            with pytest.raises(ChatError, match=r"no answer within 0\.2 s \(--timeout\)"):
                c.complete("q3", [IMG])
        finally:
            release.set()


def test_a_host_that_never_takes_the_connection_is_not_told_to_raise_the_timeout(monkeypatch):
    # urllib wraps a connect that timed out (a firewall dropping packets, a wrong address) in a URLError,
    # where a server that took the request and answered too late raises a bare TimeoutError. Both read as
    # "a server slower than --timeout: raise it", which a host that never answered cannot be.
    import urllib.error

    import agents.vlm_client

    class NoConnection:
        def open(self, req, timeout):
            raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(agents.vlm_client, "_OPENER", NoConnection())
    c = ChatClient(Endpoint("test-vl-7b", "http://192.0.2.1:8000/v1"), backoff=0.001, timeout=0.2,
                   max_retries=1, api_key_env=None)
    with pytest.raises(ChatConfigError, match=r"no connection within 0\.2 s \(--timeout\)") as exc:
        c.complete("q", [IMG])
    assert "raise --timeout" not in str(exc.value) and "is the server up" in str(exc.value)
    assert c.stats.timeouts == 2


def test_a_request_the_server_took_but_never_read_is_not_said_to_have_found_no_connection():
    # urllib wraps a timeout while sending in the URLError a connect's timeout gets: a server that took the
    # connection and never read the request (stuck; the kernel's backlog took it) read as "no connection
    # within --timeout", and mid-run as "no attempt could connect: the server has gone away".
    listener = socket.create_server(("127.0.0.1", 0))  # never accepts, never reads
    with listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        body = b"x" * (64 << 20)  # more than the socket buffers hold: sending it blocks
        c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=0.3, max_retries=0)
        with pytest.raises(ChatConfigError, match=r"last: the request could not all be sent within 0\.3 s "
                           r"\(--timeout\): the server took the connection") as exc:
            c._post_with_retries(body)
        assert "no connection" not in str(exc.value) and c.stats.timeouts == 1
        c._reached = c._understood = True  # as after an answer: a give-up of a server still there
        with pytest.raises(ChatError) as exc:
            c._post_with_retries(body)
        assert type(exc.value) is ChatError and "could not connect" not in str(exc.value)


def test_a_request_the_server_refused_itself_restarts_the_give_up_count(monkeypatch):
    # An HTTP 400 once chat completions have come is the server answering (a prompt too long for the
    # context): a give-up before it and one after it are not "in a row", and must not stop the run.
    import agents.vlm_client

    monkeypatch.setattr(agents.vlm_client, "GIVE_UPS_TO_STOP", 2)
    with ChatServer([good("ok"), server_error(502), bad_request(400), server_error(502)]) as server:
        c = client(server, max_retries=0)
        assert c.complete("q0", [IMG]).content == "ok"
        for k in (1, 2, 3):
            with pytest.raises(ChatError) as exc:
                c.complete(f"q{k}", [IMG])
            assert type(exc.value) is ChatError, k


def test_a_connect_that_timed_out_is_no_connection_not_a_request_the_server_never_read(monkeypatch):
    # http.client connects from inside its send: a connect's timeout has a send frame too, and only its
    # connect frame tells it from a send's (_timed_out_sending); a timed-out connect is "no connection".
    import http.client

    def connect(self):  # as a host that drops packets: the connect itself times out
        raise TimeoutError("timed out")

    monkeypatch.setattr(http.client.HTTPConnection, "connect", connect)
    c = ChatClient(Endpoint("m", "http://127.0.0.1:9/v1"), api_key_env=None, timeout=0.3, max_retries=0)
    with pytest.raises(ChatError) as exc:
        c._post_with_retries(b"{}")
    assert "no connection within 0.3 s" in str(exc.value) and "could not all be sent" not in str(exc.value)


def test_one_line_marks_a_cut_only_past_its_limit():
    from agents.vlm_client import one_line

    assert one_line("x" * 300) == "x" * 300  # exactly the limit: nothing was cut
    assert one_line("x" * 301) == "x" * 300 + " …"


def test_a_status_line_that_is_blank_is_said_as_one():
    # A server that sends an empty line first: http.client's BadStatusLine holds "\r\n".
    import http.client

    from agents.vlm_client import _connection_failure

    said = _connection_failure("http://h:1/v1", http.client.BadStatusLine("\r\n"), first=True)
    assert said == "http://h:1/v1 answered with no HTTP status line (a blank line)"


def test_without_xdg_cache_home_the_cache_is_under_home(tmp_path, monkeypatch):
    from agents.vlm_cache import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEPTHFIRST_VLM_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "depthfirst" / "vlm"


def test_a_server_that_answers_in_another_http_version_fails_at_once_naming_it():
    # http.client's UnknownProtocol ("HTTP/2"): a server of no HTTP/1.x, which no retry fixes, as no HTTP.
    sleeps = []
    url = _serve_raw([b"HTTP/2 200 OK\r\n\r\n"])
    c = ChatClient(Endpoint("m", url), api_key_env=None, timeout=2.0, max_retries=3, sleep=sleeps.append)
    with pytest.raises(ChatConfigError, match=r"/chat/completions answered in a protocol that is not "
                       r"HTTP/1\.x \(HTTP/2\): what listens there is no HTTP/1\.x server") as exc:
        c.complete("q", [IMG])
    assert "cannot reach" not in str(exc.value) and sleeps == []


@pytest.mark.parametrize("error", [BrokenPipeError(errno.EPIPE, "Broken pipe"),
                                   ConnectionAbortedError(errno.ECONNABORTED, "aborted")])
def test_a_broken_pipe_or_an_aborted_connection_is_said_as_a_dropped_one(error):
    from agents.vlm_client import _connection_failure

    said = _connection_failure("https://h/v1", error, first=True)
    assert said.startswith("https://h/v1 dropped the connection ([Errno ") and "cannot reach" not in said


def test_the_https_hint_for_a_dropped_connection_comes_only_before_any_answer():
    # A close or reset over http:// before anything answered may be a TLS server's; once the server has
    # answered it is a hiccup, and the hint would send the user to change a URL that works.
    from agents.vlm_client import _connection_failure

    for error in (http.client.RemoteDisconnected("closed"), ConnectionResetError(errno.ECONNRESET, "reset")):
        assert "https:// server given an http:// URL" in _connection_failure("http://h/v1", error, first=True)
        assert "https://" not in _connection_failure("http://h/v1", error, first=False)


def test_a_redirects_location_is_shown_on_one_line_with_its_control_characters_escaped():
    moved = Reply(status=302, headers={"Location": "https://llm.example/\x1b[2Jv1"}, body=b"")
    with ChatServer(default=lambda b: moved) as server, pytest.raises(ChatConfigError) as exc:
        client(server).complete("q", [IMG])
    assert "to https://llm.example/\\x1b[2Jv1: give" in str(exc.value) and "\x1b" not in str(exc.value)


def test_a_cache_dir_under_a_file_is_told_which_file_is_in_the_way(tmp_path):
    # The check no longer makes the folder, so a file above it is named by the check itself (a hand mutant
    # that dropped that check left "Not a directory", naming no file, and passed).
    from agents.vlm_cache import check_cache_dir

    (tmp_path / "notes").write_text("mine")
    with pytest.raises(ValueError) as e:
        check_cache_dir(tmp_path / "notes" / "deep" / "cache", "--cache-dir")
    assert str(e.value) == (f"--cache-dir cannot be used: {tmp_path / 'notes'} is a file, not a folder; give "
                            "another folder with --cache-dir, or pass --no-cache")
    assert (tmp_path / "notes").read_text() == "mine"


@pytest.mark.parametrize(("status", "message"), [(425, "too early"), (408, "timeout"),
                                                 (503, "upstream answered 429")])
def test_other_refusals_on_every_try_are_no_rate_limit(status, message):
    # Hand mutation pass: the rate-limit advice read off the last error by "HTTP 42" (425 too) or by a 429
    # anywhere in it (a proxy's 503 quoting one) passed every test: only a 429 is the server limiting the
    # request rate; these ask whether it is up.
    with ChatServer(default=lambda body: bad_request(status, message)) as server:
        c = client(server, max_retries=1)
        with pytest.raises(ChatConfigError, match=rf"gave up after 2 attempts; last: HTTP {status}: "
                           rf"{message} \(no chat completion has come from it yet: is the server up") as exc:
            c.complete("q", [IMG])
    assert "request rate" not in str(exc.value) and server.hits == 2


def test_a_cache_dir_that_is_a_file_is_named_a_file_by_its_flag():
    # --cache-dir naming a file: said as the flag's own value being a file, not as "cannot be used: <the
    # same path> is a file", the words for a file found further up, in the way of the folders to make.
    from agents.vlm_cache import check_cache_dir

    with pytest.raises(ValueError) as refused:
        check_cache_dir(Path(__file__), "--cache-dir x")
    assert str(refused.value) == ("--cache-dir x is a file, not a folder; give another folder with "
                                  "--cache-dir, or pass --no-cache")
