"""Attribute paths on stored spans: exact keys, JSON descent, aliases, trace scope, errors."""

from __future__ import annotations

import pytest
from tests.query._traces import by_name, genai_trace, openinference_trace

from tracejudge.errors import PathError, TracejudgeError
from tracejudge.query import compile_path, resolve


@pytest.fixture
def oi():  # type: ignore[no-untyped-def]
    return openinference_trace()


@pytest.fixture
def genai():  # type: ignore[no-untyped-def]
    return genai_trace()


def test_exact_key_then_longest_prefix_with_json_descent(oi, genai) -> None:  # type: ignore[no-untyped-def]
    llm1 = by_name(oi, "llm1")
    key = "llm.output_messages.0.message.tool_calls.0.tool_call.function.name"
    assert resolve(key, llm1) == "get_weather"
    # llm.tools.0.tool.json_schema is a JSON string: descent parses it.
    assert resolve("llm.tools.0.tool.json_schema.function.name", llm1) == "get_weather"
    assert resolve("llm.tools.0.tool.json_schema.function.parameters.required.-1", llm1) == "city"
    chat = by_name(genai, "chat")
    path = "gen_ai.output.messages.0.parts.0.arguments.city"
    assert resolve(path, chat) == "Oslo"
    root = genai.root
    assert resolve("gen_ai.output.messages.0.parts.0.content", root) == "Cold."


def test_flattened_keys_are_rebuilt_into_lists(oi) -> None:  # type: ignore[no-untyped-def]
    llm2 = by_name(oi, "llm2")
    assert resolve("llm.output_messages", llm2) == [
        {"message": {"role": "assistant", "content": "It is sunny in Paris."}}
    ]
    docs = resolve("retrieval.documents", by_name(oi, "retrieve"))
    assert [d["document"]["id"] for d in docs] == ["d1", "d2"]
    assert resolve("retrieval.documents.-1.document.content", by_name(oi, "retrieve")) == (
        "Lyon is rainy."
    )


def test_aliases_on_the_canonical_record(oi, genai) -> None:  # type: ignore[no-untyped-def]
    llm1 = by_name(oi, "llm1")
    assert resolve("model", llm1) == "gpt-4o"
    assert resolve("kind", llm1) == "LLM"
    assert resolve("name", llm1) == "llm1"
    assert resolve("status", llm1) == "OK"
    assert resolve("latency_ms", llm1) == 10.0
    assert (resolve("prompt_tokens", llm1), resolve("completion_tokens", llm1)) == (100, 20)
    assert resolve("total_tokens", llm1) == 120
    assert resolve("total_tokens", oi.root) is None  # no token counts: absent, not an error
    assert resolve("output", llm1) is None
    assert resolve("input", oi.root) == "What is the weather in Paris?"
    # The same aliases read GenAI spans (derived by the normalizer).
    chat = by_name(genai, "chat")
    assert (resolve("model", chat), resolve("total_tokens", chat)) == ("gpt-4o", 57)
    assert resolve("input", genai.root) == "Weather in Oslo?"
    # An alias followed by descent; attribute keys still win over aliases.
    assert resolve("metadata.reference", oi.root) == "sunny"
    assert resolve("input.value", oi.root) == "What is the weather in Paris?"


def test_structured_aliases_documents_tool_calls_tools(oi, genai) -> None:  # type: ignore[no-untyped-def]
    assert resolve("documents", by_name(oi, "retrieve")) == [
        {"content": "Paris is sunny today.", "id": "d1", "score": 0.9},
        {"content": "Lyon is rainy.", "id": "d2", "score": 0.4},
    ]
    assert resolve("tool_calls", by_name(oi, "llm1")) == [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}
    ]
    assert resolve("tool_calls", by_name(oi, "get_weather")) == [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": None,
         "result": {"sky": "sunny"}}
    ]  # fmt: skip
    assert resolve("tools.0.parameters.required", by_name(oi, "llm1")) == ["city"]
    assert resolve("tools.0.name", by_name(genai, "chat")) == "get_weather"
    assert resolve("tool_calls.0.arguments.city", by_name(genai, "chat")) == "Oslo"


def test_trace_input_output_and_root(oi, genai) -> None:  # type: ignore[no-untyped-def]
    llm2 = by_name(oi, "llm2")
    assert resolve("trace.input", llm2, oi) == "What is the weather in Paris?"
    assert resolve("trace.output", llm2, oi) == "It is sunny in Paris."
    assert resolve("trace.root.name", llm2, oi) == "agent"
    assert resolve("trace.output", by_name(genai, "execute_tool get_weather"), genai) == "Cold."


def test_trace_documents_only_from_retrievers_that_ended_before_the_span(oi) -> None:  # type: ignore[no-untyped-def]
    before_answer = resolve("trace.documents", by_name(oi, "llm2"), oi)
    assert [d["id"] for d in before_answer] == ["d1", "d2"]
    assert [d["id"] for d in resolve("trace.documents", oi.root, oi)] == ["d1", "d2", "late"]
    assert resolve("trace.documents", by_name(oi, "llm1"), oi)[0]["content"] == (
        "Paris is sunny today."
    )
    assert resolve("trace.documents.1.score", by_name(oi, "llm2"), oi) == 0.4


def test_trace_tool_calls_join_requests_with_the_tool_spans_that_ran_them(oi, genai) -> None:  # type: ignore[no-untyped-def]
    assert resolve("trace.tool_calls", oi.root, oi) == [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1",
         "result": {"sky": "sunny"}}
    ]  # fmt: skip
    assert resolve("trace.tool_calls", genai.root, genai) == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "c9",
         "result": {"sky": "snow"}}
    ]  # fmt: skip
    assert resolve("trace.tools.0.name", by_name(oi, "get_weather"), oi) == "get_weather"


def test_selectors_read_every_matching_span(oi) -> None:  # type: ignore[no-untyped-def]
    root = oi.root
    assert resolve("trace.spans[kind=TOOL].output", root, oi) == ['{"sky": "sunny"}']
    assert resolve("trace.spans[kind=LLM].model", root, oi) == ["gpt-4o", "gpt-4o-mini"]
    assert resolve("trace.spans[kind=LLM, model=gpt-4o-mini].name", root, oi) == ["llm2"]
    assert resolve("trace.spans[kind!=LLM,kind!=RETRIEVER].name", root, oi) == [
        "agent",
        "get_weather",
    ]
    # Condition keys are paths too; spans where the rest does not resolve are skipped.
    assert resolve("trace.spans[tool.name=get_weather].output", root, oi) == ['{"sky": "sunny"}']
    assert resolve("trace.spans[kind=RETRIEVER].documents.0.id", root, oi) == ["d1", "late"]
    assert resolve("trace.spans[].llm.model_name", root, oi) == ["gpt-4o", "gpt-4o-mini"]
    spans = resolve("trace.spans[kind=TOOL]", root, oi)
    assert [s.span_id for s in spans] == ["a000000000000004"]
    assert resolve("trace.spans[kind=EVALUATOR].output", root, oi) == []


def test_without_a_trace_the_span_is_its_own_trace(oi) -> None:  # type: ignore[no-untyped-def]
    assert resolve("trace.input", oi.root) == "What is the weather in Paris?"
    assert resolve("trace.documents", by_name(oi, "retrieve"))[0]["id"] == "d1"
    with pytest.raises(PathError, match="the trace has no spans"):
        resolve("trace.output", by_name(oi, "llm1"), type(oi)(oi.trace_id, ()))


def test_bad_paths_name_the_path_and_the_closest_keys(oi) -> None:  # type: ignore[no-untyped-def]
    llm1 = by_name(oi, "llm1")
    with pytest.raises(PathError) as info:
        resolve("llm.model_nam", llm1)
    assert info.value.path == "llm.model_nam"
    assert "llm.model_name" in info.value.available
    assert "'llm.model_nam'" in str(info.value) and "llm.model_name" in str(info.value)
    assert isinstance(info.value, TracejudgeError) and isinstance(info.value, LookupError)

    with pytest.raises(PathError, match="not found on span a000000000000003") as info:
        resolve("llm.output_messages.7.message.role", llm1)
    assert "llm.output_messages.0.message.role" in info.value.available
    with pytest.raises(PathError, match=r"'7' is not an index of a list of 1"):
        resolve("tool_calls.7", llm1)
    with pytest.raises(PathError, match="no key 'funtion'") as info:
        resolve("llm.tools.0.tool.json_schema.funtion", llm1)
    assert "function" in info.value.available
    with pytest.raises(PathError, match="cannot descend into a int"):
        resolve("prompt_tokens.x", llm1)
    with pytest.raises(PathError, match="empty segment"):
        compile_path("output..x")
    with pytest.raises(PathError, match="expected key=value"):
        compile_path("trace.spans[kind].output")
    with pytest.raises(PathError, match=r"trace\.spans\[key=value"):
        compile_path("trace.spans[kind=TOOL")
    with pytest.raises(PathError, match="not found on span"):
        resolve("trace.nothing", llm1, oi)
