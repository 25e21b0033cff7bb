"""Fixtures for judge tests: a real OpenAI-compatible judge server on 127.0.0.1.

``judge_server`` answers every chat request with the verdict in ``judge_server.verdict``
(JSON text, or a ``verdict`` tool call when the request forced one), so tests script what
the judge says and inspect what it was sent (``judge_server.requests``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture
from tracejudge.evals.judge import Judge
from tracejudge.testing import OpenAIServer, Reply

PASS_VERDICT: dict[str, Any] = {
    "reasoning": "Every claim is in the context.",
    "label": "pass",
    "score": 0.9,
}


def verdict_reply(request: dict[str, Any], verdict: Any) -> Reply:
    """The server's reply carrying ``verdict``: tool call if one was forced, else text."""
    text = verdict if isinstance(verdict, str) else json.dumps(verdict)
    if request.get("tool_choice"):
        return {"tool_calls": [{"name": "verdict", "arguments": text}]}
    return text


class JudgeServer(OpenAIServer):
    """OpenAIServer whose responder returns ``self.verdict`` (changeable per test)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self._respond, **kwargs)
        self.verdict: Any = PASS_VERDICT

    def _respond(self, request: dict[str, Any]) -> Reply:
        return verdict_reply(request, self.verdict)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Back to a fresh server's state: default verdict, no latency, nothing recorded."""
        self.clear()
        self.responder = self._respond
        self.verdict = PASS_VERDICT
        self.latency_s = 0.0


@pytest.fixture(scope="session")
def _shared_judge_server() -> Iterator[JudgeServer]:
    # One server for the session: stopping one waits out serve_forever's 0.5 s poll.
    with JudgeServer(model="judge-model") as server:
        yield server


@pytest.fixture
def judge_server(_shared_judge_server: JudgeServer) -> Iterator[JudgeServer]:
    _shared_judge_server.reset()
    yield _shared_judge_server
    _shared_judge_server.reset()


@pytest.fixture
def fast_judge(judge_server: JudgeServer) -> Judge:
    """A judge on the test server with millisecond backoff, so retry tests stay fast."""
    return Judge(
        model="judge-model",
        base_url=judge_server.base_url,
        api_key="test-key",
        timeout_s=5,
        max_retries=2,
        backoff_s=0.001,
        max_backoff_s=0.01,
    )


@pytest.fixture
def finished_spans() -> Iterator[InMemorySpanExporter]:
    """A registered tracejudge capture exporting synchronously into memory."""
    exporter = InMemorySpanExporter()
    capture.register("judge-tests", span_exporter=exporter, set_global=False, batch=False)
    yield exporter
    capture.shutdown()
