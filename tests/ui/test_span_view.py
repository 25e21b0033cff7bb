"""What the trace page reads from span attributes: messages in both conventions, tool links,
exceptions, and the escaping of everything rendered as HTML."""

from __future__ import annotations

import json

from tests.store._factory import make_span

from tracejudge.server.ui.rich_text import json_tree, markdown, parse_json
from tracejudge.server.ui.span_view import (
    ExceptionInfo,
    Message,
    ToolCall,
    exceptions,
    link_tool_calls,
    span_messages,
)


def test_openinference_messages_with_tool_calls_and_results() -> None:
    span = make_span(
        1,
        1,
        kind="LLM",
        attributes={
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "Where is TH-1?",
            "llm.input_messages.2.message.role": "tool",
            "llm.input_messages.2.message.tool_call_id": "c0",
            "llm.input_messages.2.message.content": '{"status": "shipped"}',
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"id": 1}',
        },
    )
    inputs, outputs = span_messages(span)
    assert inputs == [
        Message("system", "Be brief."),
        Message("user", "Where is TH-1?"),
        Message("tool", '{"status": "shipped"}', tool_call_id="c0"),
    ]
    assert outputs == [Message("assistant", None, (ToolCall("c1", "lookup", {"id": 1}),))]


def test_genai_messages_and_system_instructions() -> None:
    call = {"type": "tool_call", "id": "t1", "name": "weather", "arguments": {"c": "Oslo"}}
    result = {"type": "tool_call_response", "id": "t1", "response": "rain"}
    answer = {"role": "assistant", "parts": [{"type": "text", "content": "Rain."}]}
    attrs = {
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
                {"role": "assistant", "parts": [call]},
                {"role": "tool", "parts": [result]},
            ]
        ),
        "gen_ai.output.messages": json.dumps([{**answer, "finish_reason": "stop"}]),
    }
    inputs, outputs = span_messages(make_span(1, 1, kind="LLM", attributes=attrs))
    assert inputs == [
        Message("system", "Be brief."),
        Message("user", "Weather?"),
        Message("assistant", None, (ToolCall("t1", "weather", {"c": "Oslo"}),)),
        Message("tool", "rain", tool_call_id="t1"),
    ]
    assert outputs == [Message("assistant", "Rain.")]
    assert span_messages(make_span(1, 2, attributes={"gen_ai.input.messages": "not json"})) == (
        [],
        [],
    )


def test_tool_spans_are_linked_to_the_call_that_requested_them() -> None:
    def llm(n: int, start: int, *calls: tuple[str, str]) -> object:
        attrs = {"llm.output_messages.0.message.role": "assistant"}
        for i, (cid, name) in enumerate(calls):
            base = f"llm.output_messages.0.message.tool_calls.{i}.tool_call"
            attrs |= {f"{base}.id": cid, f"{base}.function.name": name}
        return make_span(1, n, 9, start_ms=start, kind="LLM", attributes=attrs)

    def tool(n: int, start: int, name: str) -> object:
        return make_span(1, n, 9, start_ms=start, kind="TOOL", attributes={"tool.name": name})

    spans = [
        llm(1, 0, ("a", "search"), ("b", "fetch")),
        tool(2, 10, "fetch"),
        tool(3, 20, "search"),
        llm(4, 30, ("c", "search")),
        tool(5, 40, "search"),
        tool(6, 50, "unrequested"),
    ]
    links = link_tool_calls(spans)  # type: ignore[arg-type]
    one, four = f"{1:016x}", f"{4:016x}"
    assert links.ran_by == {(one, 1): f"{2:016x}", (one, 0): f"{3:016x}", (four, 0): f"{5:016x}"}
    assert links.requested_by[f"{5:016x}"] == (four, 0)
    assert f"{6:016x}" not in links.requested_by


def test_exception_events() -> None:
    span = make_span(
        1,
        1,
        events=[
            {"name": "log", "time_ns": 1, "attributes": {}},
            {
                "name": "exception",
                "time_ns": 2,
                "attributes": {
                    "exception.type": "KeyError",
                    "exception.message": "'sku'",
                    "exception.stacktrace": "Traceback ...",
                },
            },
        ],
    )
    assert exceptions(span) == [ExceptionInfo("KeyError", "'sku'", "Traceback ...")]


def test_markdown_escapes_html_and_drops_images_and_script_links() -> None:
    html = str(markdown("<script>x()</script> **b** [a](javascript:x()) ![i](http://h/i.png)"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>b</strong>" in html
    assert 'href="javascript' not in html and "[a](javascript:x())" in html
    assert "<img" not in html
    code = str(markdown("```python\nprint('<b>')\n```"))
    assert '<span class="nb">print</span>' in code and "&lt;b&gt;" in code


def test_json_tree_escapes_keys_and_values_and_survives_deep_nesting() -> None:
    html = str(json_tree({"<k>": ["<v>", 1, None, {"x": True}]}))
    assert "&lt;k&gt;" in html and "&#34;&lt;v&gt;&#34;" in html and "<k>" not in html
    deep: object = 0
    for _ in range(5000):
        deep = [deep]
    assert str(json_tree(deep)).count("<details") == 5000
    assert parse_json('{"a": 1}') == {"a": 1}
    assert parse_json("plain") is None and parse_json("[broken") is None
