"""A real OpenAI-compatible HTTP server on loopback, for tests and the offline demo model.

Tests must never touch the network, yet the code under test (the ``openai`` SDK, the
instrumentors, the LLM judge) should run unmodified. So this serves the small part of the
OpenAI API they use, over real HTTP on ``127.0.0.1``, from a background thread::

    with OpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        messages = [{"role": "user", "content": "hi"}]
        reply = client.chat.completions.create(model="m", messages=messages)
        assert reply.choices[0].message.content == "Echo: hi"
        assert server.requests[0].json["model"] == "m"

Endpoints: ``POST /v1/chat/completions`` (plain and ``stream: true`` server-sent events,
tool calls, ``usage``), ``POST /v1/embeddings`` (float or base64 encoding) and
``GET /v1/models``.

What the model says is decided by a *responder*: ``responder(request_json) -> reply`` where
``reply`` is either

* a ``str`` -- the assistant's text, or
* a ``dict`` with any of ``content`` (``str | None``), ``tool_calls`` (a list of
  ``{"name": str, "arguments": dict | str, "id": str (optional)}``), ``finish_reason``
  (default ``"tool_calls"`` when there are tool calls, else ``"stop"``) and ``usage``
  (``{"prompt_tokens": int, "completion_tokens": int}``; default: whitespace word counts).

A responder may raise :class:`Fail` to answer one request with an HTTP error. The default
responder is :func:`echo_responder`; :class:`ScriptedResponder` replays a fixed list.
Failures can also be queued from outside with :meth:`OpenAIServer.fail_next`, and every
response can be slowed with ``latency_s``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Fail",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ScriptedResponder",
    "count_tokens",
    "echo_responder",
    "fake_embedding",
]

Reply = str | dict[str, Any]
Responder = Callable[[dict[str, Any]], Reply]

_CREATED = 1_750_000_000  # fixed "created" timestamp so fixtures are reproducible


class Fail(Exception):
    """Raised by a responder (or queued via ``fail_next``) to answer with an HTTP error."""

    def __init__(self, status: int = 500, message: str = "injected failure", delay_s: float = 0.0):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.delay_s = delay_s


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received, in arrival order."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # parsed body, or None when the body was empty or not JSON
    received_at: float = field(default_factory=time.time)


def count_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


def _content_text(content: Any) -> str:
    """Text of a chat message ``content`` (a string or a list of typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def echo_responder(request: dict[str, Any]) -> Reply:
    """Default responder: ``"Echo: <last user message>"``; deterministic."""
    return f"Echo: {_last_user_text(request)}"


class ScriptedResponder:
    """Replays ``replies`` in order, one per chat request; the last one repeats.

    >>> responder = ScriptedResponder([{"tool_calls": [{"name": "f", "arguments": {}}]}, "done"])
    """

    def __init__(self, replies: Iterable[Reply]) -> None:
        self._replies = list(replies)
        if not self._replies:
            raise ValueError("replies: at least one reply is needed")
        self._lock = threading.Lock()
        self._index = 0

    def __call__(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            reply = self._replies[min(self._index, len(self._replies) - 1)]
            self._index += 1
        return reply


def fake_embedding(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic unit vector derived from the text's sha256 (same text, same vector)."""
    out: list[float] = []
    counter = 0
    while len(out) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend(b / 127.5 - 1.0 for b in digest)
        counter += 1
    vec = out[:dimensions]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _prompt_text(request: dict[str, Any]) -> str:
    return " ".join(
        _content_text(m.get("content"))
        for m in request.get("messages") or []
        if isinstance(m, dict)
    )


@dataclass(slots=True)
class _Completion:
    """A responder reply resolved into everything a response needs."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _resolve(reply: Reply, request: dict[str, Any], call_seq: int) -> _Completion:
    if isinstance(reply, str):
        reply = {"content": reply}
    if not isinstance(reply, dict):
        raise TypeError(f"responder returned {type(reply).__name__}; expected str or dict")
    content = reply.get("content")
    tool_calls = []
    for i, call in enumerate(reply.get("tool_calls") or []):
        arguments = call.get("arguments", {})
        tool_calls.append(
            {
                "id": call.get("id") or f"call_{call_seq}_{i}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
    usage = reply.get("usage") or {}
    completion_text = (content or "") + " ".join(c["function"]["arguments"] for c in tool_calls)
    return _Completion(
        content=content,
        tool_calls=tool_calls,
        finish_reason=reply.get("finish_reason") or ("tool_calls" if tool_calls else "stop"),
        prompt_tokens=int(usage.get("prompt_tokens", count_tokens(_prompt_text(request)))),
        completion_tokens=int(usage.get("completion_tokens", count_tokens(completion_text))),
    )


def _usage(c: _Completion) -> dict[str, int]:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


def _chat_body(c: _Completion, model: str, completion_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": c.content, "refusal": None}
    if c.tool_calls:
        message["tool_calls"] = c.tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": "fp_tracejudge",
        "choices": [{"index": 0, "message": message, "finish_reason": c.finish_reason}],
        "usage": _usage(c),
    }


def _chat_chunks(
    c: _Completion, model: str, completion_id: str, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The SSE chunks of one streamed completion, as the OpenAI API sends them."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "system_fingerprint": "fp_tracejudge",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": "" if c.content is not None else None})
    if c.content:
        words = c.content.split(" ")
        for i, word in enumerate(words):
            yield chunk({"content": word if i == len(words) - 1 else word + " "})
    for i, call in enumerate(c.tool_calls):
        fn = call["function"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": ""},
                    }
                ]
            }
        )
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": fn["arguments"]}}]})
    yield chunk({}, c.finish_reason)
    if include_usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = _usage(c)
        yield final


def _embedding_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))]  # one pre-tokenized input
    if isinstance(value, list):
        return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value]
    raise Fail(400, "input: expected a string or a list")


class _Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the owning :class:`OpenAIServer`."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle's algorithm the body would wait
    # for the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(self, None)
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": owner.model, "object": "model", "owned_by": "tj"}],
                },
            )
        else:
            self._send_error(404, f"no route for GET {self.path}")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner._record(self, body)
        try:
            owner._before_reply()
            if not isinstance(body, dict):
                raise Fail(400, "request body must be a JSON object")
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/v1/chat/completions":
                self._chat(owner, body)
            elif path == "/v1/embeddings":
                self._embeddings(owner, body)
            else:
                raise Fail(404, f"no route for POST {self.path}")
        except Fail as failure:
            if failure.delay_s:
                time.sleep(failure.delay_s)
            self._send_error(failure.status, failure.message)
        except Exception as exc:  # a broken responder is a 500, not a dropped connection
            self._send_error(500, f"responder failed: {exc!r}")

    def _chat(self, owner: OpenAIServer, body: dict[str, Any]) -> None:
        if not isinstance(body.get("messages"), list):
            raise Fail(400, "messages: expected a list")
        seq = owner._next_seq()
        completion = _resolve(owner.responder(body), body, seq)
        model = str(body.get("model") or owner.model)
        completion_id = f"chatcmpl-tj{seq:06d}"
        if not body.get("stream"):
            self._send_json(200, _chat_body(completion, model, completion_id))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # no length: the body ends when we close
        self.end_headers()
        self.close_connection = True
        for chunk in _chat_chunks(completion, model, completion_id, include_usage):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _embeddings(self, owner: OpenAIServer, body: dict[str, Any]) -> None:
        inputs = _embedding_inputs(body.get("input"))
        dims = int(body.get("dimensions") or owner.embedding_dimensions)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vec = fake_embedding(text, dims)
            emb: Any = (
                base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if as_base64 else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(count_tokens(t) for t in inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model") or owner.model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections
    # (e.g. 32 concurrent judge calls), which then retry after a second.
    request_queue_size = 128
    owner: OpenAIServer


class OpenAIServer:
    """OpenAI-compatible server on ``127.0.0.1`` in a background thread; a context manager.

    Parameters:
        responder: decides each chat reply (see the module docstring); default echoes.
        model: model name reported when a request names none.
        port: 0 picks a free port (the default); see :attr:`base_url`.
        latency_s: sleep before every reply (for timeout tests).
        embedding_dimensions: vector size when a request does not ask for ``dimensions``.

    The server starts on ``__enter__`` (or :meth:`start`) and stops on ``__exit__``
    (or :meth:`stop`); :attr:`requests` keeps every request received, in order.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "tracejudge-demo",
        port: int = 0,
        latency_s: float = 0.0,
        embedding_dimensions: int = 8,
    ) -> None:
        self.responder: Responder = responder or echo_responder
        self.model = model
        self.latency_s = latency_s
        self.embedding_dimensions = embedding_dimensions
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: deque[Fail] = deque()
        self._seq = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="tracejudge-openai-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` -- pass as ``openai.OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- inspection and fault injection ---------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests and queued failures."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()

    def fail_next(
        self, status: int = 500, *, times: int = 1, delay_s: float = 0.0, message: str = ""
    ) -> None:
        """Answer the next ``times`` POST requests with HTTP ``status`` after ``delay_s``."""
        failure = Fail(status, message or f"injected failure {status}", delay_s)
        with self._lock:
            self._failures.extend([failure] * times)

    # --- used by the handler --------------------------------------------------------------
    def _record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        request = RecordedRequest(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            json=body,
        )
        with self._lock:
            self._requests.append(request)

    def _before_reply(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            raise failure

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq
