"""``span()`` context manager and its handle's OpenInference setters."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import StatusCode

from tracejudge.capture import observe, span
from tracejudge.errors import ConfigurationError

from .conftest import Spans


def test_messages_with_tool_calls(memory: Spans) -> None:
    with span("chat", kind="LLM") as s:
        s.set_messages(
            input=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "tool", "content": {"temp": 3}, "tool_call_id": "call_1"},
            ],
            output=[
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_2", "name": "get_weather", "arguments": {"city": "Oslo"}},
                        {"id": "call_3", "name": "noop", "arguments": "{}"},
                    ],
                }
            ],
        )
        s.set_model("gpt-test", provider="openai").set_usage(prompt=12, completion=5)
    attrs = memory.attrs("chat")
    assert attrs == {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "Weather in Oslo?",
        "llm.input_messages.2.message.role": "tool",
        "llm.input_messages.2.message.content": '{"temp":3}',
        "llm.input_messages.2.message.tool_call_id": "call_1",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_2",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": (
            '{"city":"Oslo"}'
        ),
        "llm.output_messages.0.message.tool_calls.1.tool_call.id": "call_3",
        "llm.output_messages.0.message.tool_calls.1.tool_call.function.name": "noop",
        "llm.output_messages.0.message.tool_calls.1.tool_call.function.arguments": "{}",
        "llm.model_name": "gpt-test",
        "llm.provider": "openai",
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 5,
        "llm.token_count.total": 17,
    }


def test_documents(memory: Spans) -> None:
    with span("retrieve", kind="RETRIEVER") as s:
        s.set_input("refund policy")
        s.set_documents(
            [
                {
                    "content": "Refunds within 30 days.",
                    "id": "doc-1",
                    "score": 0.9,
                    "metadata": {"source": "faq"},
                },
                {"content": "Shipping is free.", "id": 7, "score": "n/a"},
                "bare string document",
            ]
        )
    attrs = memory.attrs("retrieve")
    assert attrs["input.value"] == "refund policy"
    assert attrs["retrieval.documents.0.document.content"] == "Refunds within 30 days."
    assert attrs["retrieval.documents.0.document.id"] == "doc-1"
    assert attrs["retrieval.documents.0.document.score"] == 0.9
    assert json.loads(attrs["retrieval.documents.0.document.metadata"]) == {"source": "faq"}
    assert attrs["retrieval.documents.1.document.id"] == "7"
    assert attrs["retrieval.documents.1.document.score"] == "n/a"
    assert attrs["retrieval.documents.2.document.content"] == "bare string document"


def test_tool_input_output_status_and_raw_attributes(memory: Spans) -> None:
    with span("lookup", kind="TOOL") as s:
        s.set_tool(
            "lookup_order",
            arguments={"order_id": 42},
            result={"status": "shipped"},
            description="Find an order",
        )
        s.set_attribute("custom.list", ["a", "b"])
        s.set_attribute("custom.dict", {"k": [1, 2]})
        s.set_attribute("custom.mixed", [1, "x"])
        s.set_status_error("guardrail rejected")
        assert s.otel_span.is_recording()
    attrs = memory.attrs("lookup")
    assert attrs["tool.name"] == "lookup_order"
    assert attrs["tool.description"] == "Find an order"
    assert json.loads(attrs["tool.parameters"]) == {"order_id": 42}
    assert json.loads(attrs["input.value"]) == {"order_id": 42}
    assert json.loads(attrs["output.value"]) == {"status": "shipped"}
    assert attrs["output.mime_type"] == "application/json"
    assert attrs["custom.list"] == ("a", "b")
    assert attrs["custom.dict"] == '{"k":[1,2]}'
    assert attrs["custom.mixed"] == '[1,"x"]'
    sp = memory.one("lookup")
    assert sp.status.status_code is StatusCode.ERROR
    assert sp.status.description == "guardrail rejected"


def test_set_output_text_and_json(memory: Spans) -> None:
    with span("a") as s:
        s.set_output("plain")
    with span("b") as s:
        s.set_output([1, 2])
    assert memory.attrs("a")["output.mime_type"] == "text/plain"
    assert memory.attrs("b")["output.value"] == "[1,2]"
    assert memory.attrs("b")["output.mime_type"] == "application/json"


def test_bad_values_do_not_raise(memory: Spans) -> None:
    with span("bad", kind="LLM") as s:
        s.set_usage(prompt="many")  # type: ignore[arg-type]
        s.set_messages(input=[{"role": "user", "content": "ok"}, 42])  # type: ignore[list-item]
        s.set_documents(None)  # type: ignore[arg-type]
    attrs = memory.attrs("bad")
    assert "llm.token_count.prompt" not in attrs
    assert "llm.input_messages.0.message.content" not in attrs  # whole set_messages skipped


def test_exception_in_block_recorded_and_propagates(memory: Spans) -> None:
    with pytest.raises(ZeroDivisionError), span("div"):
        1 / 0  # noqa: B018
    sp = memory.one("div")
    assert sp.status.status_code is StatusCode.ERROR
    assert sp.events[0].name == "exception"


def test_nesting_with_observe_and_async(memory: Spans) -> None:
    @observe
    def inner() -> str:
        return "x"

    async def main() -> None:
        async with span("outer", kind="AGENT") as s:
            s.set_input("q")
            inner()
            with span("step"):
                await asyncio.sleep(0)

    asyncio.run(main())
    outer = memory.one("outer")
    assert outer.attributes["openinference.span.kind"] == "AGENT"
    for name in ("inner", "step"):
        assert memory.one(name).parent.span_id == outer.context.span_id


def test_kind_validated() -> None:
    with pytest.raises(ConfigurationError, match="kind"):
        span("x", kind="BOGUS")
