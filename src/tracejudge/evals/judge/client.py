"""``Judge``: the settings and the client for one OpenAI-compatible judge endpoint.

Built on the ``openai`` SDK (``OpenAI`` and ``AsyncOpenAI``), so any compatible server
works: OpenAI, vLLM, Ollama, a LiteLLM proxy, or :class:`tracejudge.testing.OpenAIServer`.
One call sends chat messages, asks for a structured verdict (JSON mode or a forced
``verdict`` tool call), parses it, and retries transient failures and invalid verdicts with
tenacity; each call is traced as an EVALUATOR span (:mod:`.tracing`). It never raises: the
outcome says what happened (:class:`JudgeOutcome`).

Configuration order is argument, then environment, then default:

* ``model``: ``TRACEJUDGE_JUDGE_MODEL``, else ``gpt-4o-mini``;
* ``base_url``: ``TRACEJUDGE_JUDGE_BASE_URL``, then ``OPENAI_BASE_URL``, else the SDK's
  (api.openai.com);
* ``api_key``: ``TRACEJUDGE_JUDGE_API_KEY``, then ``OPENAI_API_KEY``, else none (fine for
  a local ``base_url``; without either, every evaluation is an error saying so).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai
import orjson
from openai.types.chat import ChatCompletion
from tenacity import AsyncRetrying, Retrying

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge.parsing import (
    VERDICT_TOOL,
    VERDICT_TOOL_NAME,
    InvalidVerdict,
    Verdict,
    parse_json_verdict,
    parse_verdict_arguments,
)
from tracejudge.evals.judge.retry import RetryPolicy, describe_error
from tracejudge.evals.judge.tracing import evaluator_span

__all__ = ["DEFAULT_MODEL", "Judge", "JudgeOutcome", "ResponseFormat"]

DEFAULT_MODEL = "gpt-4o-mini"
ResponseFormat = Literal["json_object", "tool"]
_FORMATS = ("json_object", "tool")
# The body is sent as built, through the SDK's documented generic ``post`` (its "undocumented
# endpoints" escape hatch), and the reply comes back raw (what ``.with_raw_response`` asks
# for): ``chat.completions.create`` walks every message through a TypedDict transformer and
# builds a pydantic ``ChatCompletion`` on every call, CPU that shows in judge throughput
# (bench/judge_throughput.py). We read the JSON with orjson; the SDK's timeouts and errors
# apply unchanged, and an OpenInference instrumentor still sees a ChatCompletion call.
_PATH = "/chat/completions"
_RAW: Any = {"headers": {"X-Stainless-Raw-Response": "true"}}
_CAST = ChatCompletion  # what instrumentors see; the raw reply is never cast
# httpx writes a request's headers and body as separate packets; without TCP_NODELAY,
# Nagle's algorithm holds the body until the server's delayed ACK (~40 ms on Linux), which
# would dominate a fast judge's latency. curl and Go's net/http set it by default too.
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
# The transports must come from the HTTP library the installed SDK is built on (httpx, or
# httpx2 in recent openai releases): its default client classes subclass that library's.
_http: Any = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
_LIMITS = _http.Limits(max_connections=1000, max_keepalive_connections=100)  # the SDK's own
# Local servers (vLLM, Ollama, the test server) ignore the key, but the SDK requires one.
_PLACEHOLDER_KEY = "unused"


@dataclass(frozen=True, slots=True)
class JudgeOutcome:
    """What one judge call produced: a verdict, or the error that prevented one.

    ``raw`` is the judge's last reply (message content or tool arguments); token counts
    add up every attempt that got a reply, since each one was paid for.
    """

    verdict: Verdict | None
    raw: str | None
    error: str | None
    model: str
    attempts: int
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def metadata(self) -> dict[str, Any]:
        """The ``EvalResult.metadata`` keys: judge_model, latency_ms, token counts, attempts."""
        return {
            "judge_model": self.model,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class _Attempts:
    """Running totals over the attempts of one call (replies, tokens)."""

    count: int = 0
    raw: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def add_usage(self, prompt: Any, completion: Any) -> None:
        if isinstance(prompt, int):
            self.prompt_tokens = (self.prompt_tokens or 0) + prompt
        if isinstance(completion, int):
            self.completion_tokens = (self.completion_tokens or 0) + completion


def _field(value: Any, key: str) -> Any:
    """``value[key]`` when value is a JSON object, else None (replies are untrusted)."""
    return value.get(key) if isinstance(value, dict) else None


@dataclass(slots=True)
class _LoopState:
    """What belongs to one event loop: the concurrency slots and the async client."""

    slots: asyncio.Semaphore
    client: openai.AsyncOpenAI | None = None


def _setting(argument: str | None, *env_names: str) -> str | None:
    """The argument if given, else the first non-empty environment variable."""
    if argument is not None:
        return argument
    for name in env_names:
        if value := os.environ.get(name):
            return value
    return None


class Judge:
    """An LLM judge endpoint with timeouts, retries, a concurrency limit and verdict parsing.

    Example::

        judge = Judge(model="gpt-4o-mini", base_url="http://127.0.0.1:8000/v1")
        outcome = judge.complete([{"role": "user", "content": "..."}])
        outcome.verdict.label  # "pass" | "fail"

    Parameters:
        model, base_url, api_key: the endpoint (see the module docstring for the
            environment variables and defaults).
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt (429, 5xx, timeouts, connection
            errors and invalid verdicts are retried; other 4xx are not).
        concurrency: most judge calls in flight at once (each with its retries), per
            event loop for ``acomplete`` and per ``Judge`` for ``complete`` (threads).
        response_format: ``"json_object"`` (JSON mode) or ``"tool"`` (a forced
            ``verdict`` function call).
        backoff_s, max_backoff_s: first and largest wait between attempts; a server's
            ``Retry-After`` is honoured up to ``max_backoff_s``.
        temperature: sampling temperature of the judge (0 for repeatable verdicts).

    Raises:
        ConfigurationError: a setting is out of range (the message names it).
    """

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        concurrency: int = 8,
        response_format: ResponseFormat = "json_object",
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        temperature: float = 0.0,
    ) -> None:
        if not isinstance(timeout_s, int | float) or timeout_s <= 0:
            raise ConfigurationError(f"timeout_s: expected a positive number, got {timeout_s!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries: expected an int >= 0, got {max_retries!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency: expected an int >= 1, got {concurrency!r}")
        if response_format not in _FORMATS:
            raise ConfigurationError(
                f"response_format: expected one of {_FORMATS}, got {response_format!r}"
            )
        if backoff_s < 0 or max_backoff_s < backoff_s:
            raise ConfigurationError(
                f"backoff_s, max_backoff_s: expected 0 <= backoff_s <= max_backoff_s, "
                f"got {backoff_s!r}, {max_backoff_s!r}"
            )
        self.model: str = _setting(model, "TRACEJUDGE_JUDGE_MODEL") or DEFAULT_MODEL
        self.base_url = _setting(base_url, "TRACEJUDGE_JUDGE_BASE_URL", "OPENAI_BASE_URL")
        self.api_key = _setting(api_key, "TRACEJUDGE_JUDGE_API_KEY", "OPENAI_API_KEY")
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.response_format: ResponseFormat = response_format
        self.temperature = temperature
        self._policy = RetryPolicy(max_retries, float(backoff_s), float(max_backoff_s))
        self._sync_lock = threading.Lock()
        self._sync_client: openai.OpenAI | None = None
        self._sync_slots = threading.BoundedSemaphore(concurrency)
        # An AsyncOpenAI connection pool and an asyncio.Semaphore both belong to one event
        # loop; keep one pair per loop so a Judge survives several asyncio.run() calls.
        self._async_state: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return (
            f"Judge(model={self.model!r}, base_url={self.base_url!r}, "
            f"response_format={self.response_format!r})"
        )

    # --- clients ------------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        api_key = self.api_key
        if api_key is None:
            if self.base_url is None:
                raise ConfigurationError(
                    "judge api_key: none given; set TRACEJUDGE_JUDGE_API_KEY or OPENAI_API_KEY "
                    "(or a base_url for a local server that needs no key)"
                )
            api_key = _PLACEHOLDER_KEY
        return {
            "api_key": api_key,
            "base_url": self.base_url,
            "timeout": self.timeout_s,
            "max_retries": 0,  # tenacity retries, so invalid verdicts are covered too
        }

    def _sync(self) -> openai.OpenAI:
        with self._sync_lock:
            if self._sync_client is None:
                transport = _http.HTTPTransport(socket_options=_NODELAY, limits=_LIMITS)
                self._sync_client = openai.OpenAI(
                    **self._client_kwargs(),
                    http_client=openai.DefaultHttpxClient(transport=transport),
                )
            return self._sync_client

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._async_state.get(loop)
        if state is None:
            state = self._async_state[loop] = _LoopState(asyncio.Semaphore(self.concurrency))
        return state

    def _async_client(self) -> openai.AsyncOpenAI:
        state = self._loop_state()
        if state.client is None:
            transport = _http.AsyncHTTPTransport(socket_options=_NODELAY, limits=_LIMITS)
            state.client = openai.AsyncOpenAI(
                **self._client_kwargs(),
                http_client=openai.DefaultAsyncHttpxClient(transport=transport),
            )
        return state.client

    # --- requests -----------------------------------------------------------------------
    def _request(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The chat-completions request body for the configured structured-output mode."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature,
        }
        if self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        else:
            kwargs["tools"] = [VERDICT_TOOL]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": VERDICT_TOOL_NAME}}
        return kwargs

    def _read(self, response: Any, attempts: _Attempts) -> Verdict:
        """Record usage, model and the raw reply of one response, then parse the verdict."""
        try:
            body = orjson.loads(response.http_response.content)
        except orjson.JSONDecodeError as exc:
            raise InvalidVerdict(f"the judge's response is not JSON: {exc}", None) from None
        usage = _field(body, "usage")
        attempts.add_usage(_field(usage, "prompt_tokens"), _field(usage, "completion_tokens"))
        attempts.model = _field(body, "model") or attempts.model
        choices = _field(body, "choices")
        if not isinstance(choices, list) or not choices:
            attempts.raw = None
            raise InvalidVerdict("the judge returned no choices", None)
        message = _field(choices[0], "message")
        content = _field(message, "content")
        attempts.raw = content if isinstance(content, str) else None
        if self.response_format == "json_object":
            return parse_json_verdict(attempts.raw)
        calls = _field(message, "tool_calls")
        if not isinstance(calls, list) or not calls:
            raise InvalidVerdict(
                f"expected a {VERDICT_TOOL_NAME!r} tool call, got text: {content!r}", attempts.raw
            )
        function = _field(calls[0], "function")
        arguments = _field(function, "arguments")
        attempts.raw = arguments if isinstance(arguments, str) else None
        return parse_verdict_arguments(_field(function, "name"), attempts.raw)

    def _outcome(
        self,
        attempts: _Attempts,
        started: float,
        verdict: Verdict | None = None,
        error: BaseException | None = None,
    ) -> JudgeOutcome:
        return JudgeOutcome(
            verdict=verdict,
            raw=attempts.raw,
            error=None
            if error is None
            else describe_error(error, attempts=attempts.count, timeout_s=self.timeout_s),
            model=attempts.model or self.model,
            attempts=attempts.count,
            latency_ms=(time.perf_counter() - started) * 1000,
            prompt_tokens=attempts.prompt_tokens,
            completion_tokens=attempts.completion_tokens,
        )

    def complete(
        self, messages: Sequence[Mapping[str, Any]], *, name: str = "judge", version: str = "1"
    ) -> JudgeOutcome:
        """Ask the judge for a verdict on ``messages``; blocks (retries included). Never raises.

        The call holds one of ``concurrency`` slots from its first attempt to its last, and
        is traced as an EVALUATOR span named after evaluator ``name``/``version`` (started
        once it has a slot, so queueing is not judge latency).
        """
        with self._sync_slots, evaluator_span(name, version, messages, self.model) as span:
            outcome = self._attempt_sync(messages)
            span.finish(outcome)
        return outcome

    def _attempt_sync(self, messages: Sequence[Mapping[str, Any]]) -> JudgeOutcome:
        """The retry loop of :meth:`complete`."""
        started = time.perf_counter()
        attempts = _Attempts()
        try:
            client = self._sync()
            request = self._request(messages)
            for attempt in Retrying(**self._policy.tenacity_kwargs()):
                with attempt:
                    attempts.count += 1
                    response = client.post(_PATH, body=request, cast_to=_CAST, options=_RAW)
                    verdict = self._read(response, attempts)
        except Exception as exc:
            return self._outcome(attempts, started, error=exc)
        return self._outcome(attempts, started, verdict=verdict)

    async def acomplete(
        self, messages: Sequence[Mapping[str, Any]], *, name: str = "judge", version: str = "1"
    ) -> JudgeOutcome:
        """Async twin of :meth:`complete`; at most ``concurrency`` calls in flight per loop."""
        async with self._loop_state().slots:
            with evaluator_span(name, version, messages, self.model) as span:
                outcome = await self._attempt_async(messages)
                span.finish(outcome)
        return outcome

    async def _attempt_async(self, messages: Sequence[Mapping[str, Any]]) -> JudgeOutcome:
        """The retry loop of :meth:`acomplete`."""
        started = time.perf_counter()
        attempts = _Attempts()
        try:
            client = self._async_client()
            request = self._request(messages)
            async for attempt in AsyncRetrying(**self._policy.tenacity_kwargs()):
                with attempt:
                    attempts.count += 1
                    response = await client.post(_PATH, body=request, cast_to=_CAST, options=_RAW)
                    verdict = self._read(response, attempts)
        except Exception as exc:
            return self._outcome(attempts, started, error=exc)
        return self._outcome(attempts, started, verdict=verdict)
