"""The judge client against a real OpenAI-compatible server on 127.0.0.1.

Scripted verdicts and injected failures (``fail_next``); every test counts the requests
the server saw, so "retried as configured" is checked, not assumed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import openai
import pytest
from tenacity import RetryCallState

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge import (
    DEFAULT_MODEL,
    Judge,
    LLMJudgeEvaluator,
    Template,
    template_evaluator,
)
from tracejudge.evals.judge.client import _http
from tracejudge.evals.judge.retry import RetryPolicy, retry_after_s
from tracejudge.testing import OpenAIServer, ScriptedResponder

from .conftest import PASS_VERDICT, JudgeServer

INPUTS = {"output": "Refunds take 5 business days.", "context": ["Refunds: 5 business days."]}


def test_json_mode_request_carries_prompt_and_verdict_is_parsed(
    judge_server: JudgeServer, fast_judge: Judge
) -> None:
    judge_server.verdict = {"reasoning": "Stated in kb.", "label": "pass", "score": 0.8}
    result = template_evaluator("groundedness", judge=fast_judge).evaluate(INPUTS)

    assert (result.label, result.score, result.explanation) == ("pass", 0.8, "Stated in kb.")
    assert result.error is None and result.passed is True
    (request,) = judge_server.chat_requests()
    assert request["model"] == "judge-model"
    assert request["response_format"] == {"type": "json_object"}
    assert "tools" not in request and request["temperature"] == 0
    system, user = request["messages"]
    assert "Groundedness" in system["content"] and "JSON" in system["content"]
    assert "[1] Refunds: 5 business days." in user["content"]
    assert "Refunds take 5 business days." in user["content"]
    meta = result.metadata
    assert meta["judge_model"] == "judge-model" and meta["attempts"] == 1
    assert meta["prompt_tokens"] > 0 and meta["completion_tokens"] > 0
    assert 0 < meta["latency_ms"] < 5000


def test_tool_call_mode_forces_the_verdict_function(judge_server: JudgeServer) -> None:
    judge_server.verdict = {"reasoning": "Insults the user.", "label": "fail", "score": 0.05}
    judge = Judge(base_url=judge_server.base_url, response_format="tool")
    result = template_evaluator("toxicity", judge=judge).evaluate({"output": "You idiot."})

    assert (result.label, result.score, result.explanation) == ("fail", 0.05, "Insults the user.")
    (request,) = judge_server.chat_requests()
    assert request["tool_choice"] == {"type": "function", "function": {"name": "verdict"}}
    assert [t["function"]["name"] for t in request["tools"]] == ["verdict"]
    assert "response_format" not in request
    assert "calling the `verdict` function" in request["messages"][0]["content"]


def test_tool_mode_text_reply_is_an_invalid_verdict(judge_server: JudgeServer) -> None:
    judge_server.responder = lambda request: "I think it passes."
    judge = Judge(
        base_url=judge_server.base_url,
        response_format="tool",
        max_retries=1,
        backoff_s=0.001,
        max_backoff_s=0.01,
    )
    result = template_evaluator("toxicity", judge=judge).evaluate({"output": "hi"})
    assert result.error is not None and "expected a 'verdict' tool call" in result.error
    assert len(judge_server.chat_requests()) == 2


def test_malformed_json_retried_then_error(judge_server: JudgeServer, fast_judge: Judge) -> None:
    judge_server.verdict = '{"reasoning": "cut off'
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})

    assert result.label is None and result.score is None and result.passed is None
    assert result.error is not None
    assert result.error.startswith("judge gave no valid verdict after 3 attempts: not valid JSON")
    assert len(judge_server.chat_requests()) == 3  # max_retries=2
    assert result.metadata["attempts"] == 3
    assert result.metadata["prompt_tokens"] > 0  # tokens of every paid attempt add up


def test_empty_reply_is_an_invalid_verdict(judge_server: JudgeServer, fast_judge: Judge) -> None:
    judge_server.responder = lambda request: {"content": None}
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert (
        result.error
        == "judge gave no valid verdict after 3 attempts: the judge returned no content"
    )


def test_invalid_then_valid_verdict_succeeds(judge_server: JudgeServer, fast_judge: Judge) -> None:
    good = json.dumps(PASS_VERDICT)
    judge_server.responder = ScriptedResponder(['{"label": "great"}', good])
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert result.label == "pass" and result.error is None
    assert result.metadata["attempts"] == 2 and len(judge_server.chat_requests()) == 2


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, "judge request failed after 3 attempts: HTTP 500: injected failure 500"),
        (503, "judge request failed after 3 attempts: HTTP 503: injected failure 503"),
        (429, "judge request failed after 3 attempts: rate limited: injected failure 429"),
    ],
)
def test_server_errors_and_rate_limits_retried_then_error(
    judge_server: JudgeServer, fast_judge: Judge, status: int, expected: str
) -> None:
    judge_server.fail_next(status, times=3)
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert result.error == expected
    assert len(judge_server.chat_requests()) == 3


def test_transient_failures_recover(judge_server: JudgeServer, fast_judge: Judge) -> None:
    judge_server.fail_next(429)
    judge_server.fail_next(502)
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert result.label == "pass" and result.metadata["attempts"] == 3
    assert len(judge_server.chat_requests()) == 3


def test_client_errors_are_not_retried(judge_server: JudgeServer, fast_judge: Judge) -> None:
    judge_server.fail_next(400, times=5, message="model not found")
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert result.error == "judge request failed after 1 attempt: HTTP 400: model not found"
    assert len(judge_server.chat_requests()) == 1


def test_timeouts_retried_then_error() -> None:
    # Its own server: the abandoned slow requests must not touch the shared one's state.
    with JudgeServer(latency_s=0.5) as judge_server:
        _assert_timeouts_retried(judge_server)


def _assert_timeouts_retried(judge_server: JudgeServer) -> None:
    judge = Judge(
        base_url=judge_server.base_url,
        timeout_s=0.1,
        max_retries=1,
        backoff_s=0.001,
        max_backoff_s=0.01,
    )
    started = time.perf_counter()
    result = template_evaluator("toxicity", judge=judge).evaluate({"output": "hi"})
    assert result.error == "judge timed out after 2 attempts (timeout_s=0.1)"
    assert time.perf_counter() - started < 0.45  # gave up on the slow server, did not wait it out
    deadline = time.monotonic() + 2
    while len(judge_server.chat_requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(judge_server.chat_requests()) == 2


def test_unreachable_judge_is_an_error_result() -> None:
    with OpenAIServer() as server:
        base_url = server.base_url  # a port that is closed once the server stops
    judge = Judge(base_url=base_url, max_retries=1, backoff_s=0.001, max_backoff_s=0.01)
    result = template_evaluator("toxicity", judge=judge).evaluate({"output": "hi"})
    assert result.error is not None and result.error.startswith("judge unreachable after 2")


def test_async_evaluations_retry_too(judge_server: JudgeServer, fast_judge: Judge) -> None:
    judge_server.fail_next(500, times=3)
    evaluator = template_evaluator("toxicity", judge=fast_judge)
    result = asyncio.run(evaluator.aevaluate({"output": "hi"}))
    assert result.error is not None and "after 3 attempts: HTTP 500" in result.error
    judge_server.verdict = '{"nope": 1}'
    result = asyncio.run(evaluator.aevaluate({"output": "hi"}))  # a second event loop
    assert result.error is not None and "reasoning: Field required" in result.error
    assert len(judge_server.chat_requests()) == 6


class _InFlight:
    """Responder that records the most requests it was serving at once."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.current = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(self.delay_s)
        with self.lock:
            self.current -= 1
        return json.dumps(PASS_VERDICT)


def test_async_concurrency_limit(judge_server: JudgeServer) -> None:
    in_flight = _InFlight(0.05)
    judge_server.responder = in_flight
    evaluator = template_evaluator(
        "toxicity", judge=Judge(base_url=judge_server.base_url, concurrency=3)
    )

    async def run() -> list[Any]:
        return await asyncio.gather(*(evaluator.aevaluate({"output": "hi"}) for _ in range(12)))

    results = asyncio.run(run())
    assert all(r.label == "pass" for r in results)
    assert in_flight.peak == 3


def test_sync_concurrency_limit_across_threads(judge_server: JudgeServer) -> None:
    in_flight = _InFlight(0.05)
    judge_server.responder = in_flight
    evaluator = template_evaluator(
        "toxicity", judge=Judge(base_url=judge_server.base_url, concurrency=2)
    )
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(evaluator.evaluate({"output": "hi"})))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r.label == "pass" for r in results)
    assert in_flight.peak == 2


def test_missing_input_is_an_error_result_without_a_request(
    judge_server: JudgeServer, fast_judge: Judge
) -> None:
    result = template_evaluator("groundedness", judge=fast_judge).evaluate({"output": "x"})
    assert result.error is not None and "missing required input 'context'" in result.error
    assert judge_server.chat_requests() == []


def test_custom_template_end_to_end(judge_server: JudgeServer, fast_judge: Judge) -> None:
    template = Template(
        name="politeness",
        version="2",
        rubric="Pass if the reply is polite.",
        prompt="Reply: {{ output }}",
        inputs={"output": "output"},
    )
    evaluator = LLMJudgeEvaluator(template, fast_judge)
    assert (evaluator.name, evaluator.version, evaluator.required) == (
        "politeness",
        "2",
        frozenset({"output"}),
    )
    assert evaluator.evaluate({"output": "Thanks!"}).label == "pass"
    assert judge_server.chat_requests()[0]["messages"][1]["content"] == "Reply: Thanks!"


# --- configuration -----------------------------------------------------------------------
_ENV = (
    "TRACEJUDGE_JUDGE_MODEL",
    "TRACEJUDGE_JUDGE_BASE_URL",
    "TRACEJUDGE_JUDGE_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_argument_then_env_then_default(clean_env: pytest.MonkeyPatch) -> None:
    judge = Judge()
    assert (judge.model, judge.base_url, judge.api_key) == (DEFAULT_MODEL, None, None)
    clean_env.setenv("OPENAI_BASE_URL", "http://openai.example/v1")
    clean_env.setenv("OPENAI_API_KEY", "sk-openai")
    judge = Judge()
    assert (judge.base_url, judge.api_key) == ("http://openai.example/v1", "sk-openai")
    clean_env.setenv("TRACEJUDGE_JUDGE_MODEL", "env-model")
    clean_env.setenv("TRACEJUDGE_JUDGE_BASE_URL", "http://judge.example/v1")
    clean_env.setenv("TRACEJUDGE_JUDGE_API_KEY", "sk-judge")
    judge = Judge()
    assert (judge.model, judge.base_url, judge.api_key) == (
        "env-model",
        "http://judge.example/v1",
        "sk-judge",
    )
    judge = Judge(model="arg-model", base_url="http://arg/v1", api_key="sk-arg")
    assert (judge.model, judge.base_url, judge.api_key) == ("arg-model", "http://arg/v1", "sk-arg")


def test_env_endpoint_is_used(clean_env: pytest.MonkeyPatch, judge_server: JudgeServer) -> None:
    clean_env.setenv("TRACEJUDGE_JUDGE_BASE_URL", judge_server.base_url)
    clean_env.setenv("TRACEJUDGE_JUDGE_MODEL", "from-env")
    result = template_evaluator("toxicity").evaluate({"output": "hi"})
    assert result.label == "pass"
    assert judge_server.chat_requests()[0]["model"] == "from-env"
    assert judge_server.requests[0].headers["authorization"] == "Bearer unused"


def test_no_key_and_no_endpoint_is_an_error_result(clean_env: pytest.MonkeyPatch) -> None:
    result = template_evaluator("toxicity").evaluate({"output": "hi"})
    assert result.error is not None
    assert result.error.startswith("judge could not be called: judge api_key: none given")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": 0}, "timeout_s: expected a positive number"),
        ({"max_retries": -1}, "max_retries: expected an int >= 0"),
        ({"concurrency": 0}, "concurrency: expected an int >= 1"),
        ({"response_format": "xml"}, "response_format: expected one of"),
        ({"backoff_s": 2.0, "max_backoff_s": 1.0}, "backoff_s, max_backoff_s"),
    ],
)
def test_bad_settings_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Judge(**kwargs)


# --- backoff ------------------------------------------------------------------------------
def _rate_limit(headers: dict[str, str]) -> openai.RateLimitError:
    # The HTTP library the installed openai SDK is built on (httpx or httpx2).
    request = _http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = _http.Response(429, headers=headers, request=request)
    return openai.RateLimitError("slow down", response=response, body=None)


def _state_after(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_retry_after_header_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retries=3, backoff_s=0.5, max_backoff_s=10.0)
    assert retry_after_s(_rate_limit({"retry-after": "2"})) == 2.0
    assert retry_after_s(_rate_limit({"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(_rate_limit({})) is None
    assert policy.wait(_state_after(_rate_limit({"retry-after": "2"}), 1)) == 2.0
    assert policy.wait(_state_after(_rate_limit({"retry-after": "3600"}), 1)) == 10.0


def test_backoff_is_exponential_with_jitter() -> None:
    policy = RetryPolicy(max_retries=5, backoff_s=0.5, max_backoff_s=10.0)
    error = _rate_limit({})
    first = [policy.wait(_state_after(error, 1)) for _ in range(20)]
    third = [policy.wait(_state_after(error, 3)) for _ in range(20)]
    assert all(0.5 <= w <= 1.0 for w in first) and len(set(first)) > 1  # jittered
    assert all(2.0 <= w <= 2.5 for w in third)
    assert policy.wait(_state_after(error, 30)) <= 10.0
