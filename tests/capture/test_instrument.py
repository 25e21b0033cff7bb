"""``auto_instrument``: the real OpenInference openai instrumentor, the real openai SDK,
a real OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture
from tracejudge.capture import observe, using_session
from tracejudge.capture._state import current
from tracejudge.capture.instrument import discover_instrumentors
from tracejudge.testing import OpenAIServer


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    def responder(request: dict) -> dict:
        return {"content": "Four.", "usage": {"prompt_tokens": 17, "completion_tokens": 2}}

    with OpenAIServer(responder) as s:
        yield s


def test_discovers_the_installed_openai_instrumentor() -> None:
    found = discover_instrumentors()
    assert found["openai"].__module__.startswith("openinference.instrumentation.openai")


def test_openai_calls_become_child_llm_spans(server: OpenAIServer) -> None:
    memory = InMemorySpanExporter()
    capture.register(
        "llm-app", span_exporter=memory, auto_instrument=True, set_global=False, batch=False
    )
    try:
        assert "openai" in current().instrumented
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)

        @observe(kind="AGENT")
        def ask(question: str) -> str:
            reply = client.chat.completions.create(
                model="demo-model",
                messages=[
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": question},
                ],
            )
            return reply.choices[0].message.content or ""

        with using_session("chat-1"):
            answer = ask("What is two plus two?")
    finally:
        capture.shutdown()
    assert answer == "Four."
    spans = {s.name: s for s in memory.get_finished_spans()}
    agent = spans["ask"]
    (llm,) = [s for s in spans.values() if s.attributes.get("openinference.span.kind") == "LLM"]
    assert llm.parent.span_id == agent.context.span_id
    attrs = llm.attributes
    assert attrs["llm.model_name"] == "demo-model"
    assert attrs["session.id"] == "chat-1"
    assert attrs["llm.input_messages.0.message.content"] == "Answer briefly."
    assert attrs["llm.output_messages.0.message.content"] == answer
    assert server.requests[0].json["messages"][1]["content"] == "What is two plus two?"
    assert attrs["llm.token_count.prompt"] == 17
    assert attrs["llm.token_count.completion"] == 2
    assert attrs["llm.token_count.total"] == 19


def test_shutdown_uninstruments(server: OpenAIServer) -> None:
    memory = InMemorySpanExporter()
    capture.register("x", span_exporter=memory, auto_instrument=True, set_global=False, batch=False)
    capture.shutdown()
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert memory.get_finished_spans() == ()
