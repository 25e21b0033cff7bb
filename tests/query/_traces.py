"""Stored-shape traces for path and scoring tests, built through the real normalizer.

Two conventions, same story (a question, retrieved documents, a tool call, an answer):
OpenInference flattened keys and OTel GenAI JSON attributes. Ids are fixed; times are
milliseconds after a fixed clock.
"""

from __future__ import annotations

import json
from typing import Any

from tracejudge.ingest.normalize import normalize
from tracejudge.ingest.raw import RawSpan
from tracejudge.model import Span, Trace

T0 = 1_700_000_000_000_000_000
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PROJECT = "paths"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def make_span(
    span_id: str,
    parent: str | None,
    name: str,
    start_ms: int,
    end_ms: int,
    attributes: dict[str, Any],
    trace_id: str = TRACE_ID,
) -> Span:
    raw = RawSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        otel_kind="INTERNAL",
        status_code="OK",
        status_message=None,
        start_ns=T0 + start_ms * 1_000_000,
        end_ns=T0 + end_ms * 1_000_000,
        attributes=attributes,
    )
    return normalize(raw, PROJECT)[0]


def openinference_trace() -> Trace:
    """agent(0-100) > retrieve(10-20), llm1(20-30, asks get_weather), tool(30-40),
    llm2(40-50, answers), late_retrieve(60-70)."""
    root = "a000000000000001"
    return Trace(
        TRACE_ID,
        (
            make_span(root, None, "agent", 0, 100, {
                "openinference.span.kind": "AGENT",
                "input.value": "What is the weather in Paris?",
                "output.value": "It is sunny in Paris.",
                "metadata": json.dumps({"reference": "sunny", "tier": "gold"}),
            }),
            make_span("a000000000000002", root, "retrieve", 10, 20, {
                "openinference.span.kind": "RETRIEVER",
                "input.value": "weather Paris",
                "retrieval.documents.0.document.id": "d1",
                "retrieval.documents.0.document.content": "Paris is sunny today.",
                "retrieval.documents.0.document.score": 0.9,
                "retrieval.documents.1.document.id": "d2",
                "retrieval.documents.1.document.content": "Lyon is rainy.",
                "retrieval.documents.1.document.score": 0.4,
            }),
            make_span("a000000000000003", root, "llm1", 20, 30, {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o",
                "llm.token_count.prompt": 100,
                "llm.token_count.completion": 20,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "What is the weather in Paris?",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments":
                    '{"city": "Paris"}',
                "llm.tools.0.tool.json_schema": json.dumps(WEATHER_TOOL),
            }),
            make_span("a000000000000004", root, "get_weather", 30, 40, {
                "openinference.span.kind": "TOOL",
                "tool.name": "get_weather",
                "input.value": '{"city": "Paris"}',
                "output.value": '{"sky": "sunny"}',
            }),
            make_span("a000000000000005", root, "llm2", 40, 50, {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "It is sunny in Paris.",
                "llm.tools.0.tool.json_schema": json.dumps(WEATHER_TOOL),
            }),
            make_span("a000000000000006", root, "late_retrieve", 60, 70, {
                "openinference.span.kind": "RETRIEVER",
                "retrieval.documents.0.document.id": "late",
                "retrieval.documents.0.document.content": "Retrieved after the answer.",
            }),
        ),
    )  # fmt: skip


GENAI_TRACE_ID = "1bf7651916cd43dd8448eb211c80319c"


def genai_trace() -> Trace:
    """invoke_agent(0-100) > chat(10-20, asks get_weather) > execute_tool(20-30) > chat(30-40)."""
    root = "b000000000000001"
    tid = GENAI_TRACE_ID
    return Trace(
        tid,
        (
            make_span(root, None, "invoke_agent", 0, 100, {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "Cold."}]}]
                ),
            }, tid),
            make_span("b000000000000002", root, "chat", 10, 20, {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 50,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.tool.definitions": json.dumps([WEATHER_TOOL["function"]]),
                "gen_ai.output.messages": json.dumps([{
                    "role": "assistant",
                    "parts": [{"type": "tool_call", "id": "c9", "name": "get_weather",
                               "arguments": {"city": "Oslo"}}],
                }]),
            }, tid),
            make_span("b000000000000003", root, "execute_tool get_weather", 20, 30, {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": "c9",
                "gen_ai.tool.call.arguments": '{"city": "Oslo"}',
                "gen_ai.tool.call.result": '{"sky": "snow"}',
            }, tid),
            make_span("b000000000000004", root, "chat", 30, 40, {
                "gen_ai.operation.name": "chat",
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "Cold."}]}]
                ),
            }, tid),
        ),
    )  # fmt: skip


def by_name(trace: Trace, name: str) -> Span:
    return next(s for s in trace.spans if s.name == name)
