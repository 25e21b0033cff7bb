"""What the trace page shows for one span, read from its attributes (no mapping needed).

Pure functions over canonical records: chat messages from OpenInference
(``llm.input_messages.N.message.*``) or OTel GenAI (``gen_ai.input.messages``,
``gen_ai.system_instructions``, ``gen_ai.output.messages``), retrieved documents, tool
calls and how they link to the TOOL spans that ran them, exceptions from span events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracejudge import semconv as sc
from tracejudge.model import Span, SpanKind
from tracejudge.query.paths import span_tool_calls, unflatten
from tracejudge.server.ui.rich_text import parse_json

__all__ = [
    "ExceptionInfo",
    "Message",
    "ToolCall",
    "ToolLinks",
    "exceptions",
    "link_tool_calls",
    "span_messages",
]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for (or a TOOL span ran)."""

    id: str | None
    name: str | None
    arguments: Any  # parsed JSON when it was JSON


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message as the reviewer reads it."""

    role: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # a tool result: the call it answers
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """An ``exception`` span event."""

    type: str | None
    message: str | None
    stacktrace: str | None


@dataclass(frozen=True, slots=True)
class ToolLinks:
    """Which TOOL span ran which requested call, both ways."""

    ran_by: dict[tuple[str, int], str] = field(default_factory=dict)  # (llm span, i) -> tool
    requested_by: dict[str, tuple[str, int]] = field(default_factory=dict)  # tool -> (llm, i)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenInference "contents": [{message_content: {text}}]
        texts = [
            ((item or {}).get("message_content") or {}).get("text")
            for item in value
            if isinstance(item, dict)
        ]
        return "\n\n".join(t for t in texts if isinstance(t, str)) or None
    return str(value)


def _oi_messages(attrs: dict[str, Any], prefix: str) -> list[Message]:
    tree = unflatten(attrs, prefix)
    out = []
    for item in tree if isinstance(tree, list) else ():
        m = (item or {}).get("message") if isinstance(item, dict) else None
        if not isinstance(m, dict):
            continue
        calls = []
        for tc in m.get("tool_calls") or ():
            inner = (tc or {}).get("tool_call") or {} if isinstance(tc, dict) else {}
            fn = inner.get("function") or {}
            calls.append(ToolCall(inner.get("id"), fn.get("name"), _json_or(fn.get("arguments"))))
        out.append(
            Message(
                role=str(m.get("role") or "unknown"),
                content=_text(m.get("content")) or _text(m.get("contents")),
                tool_calls=tuple(calls),
                tool_call_id=m.get("tool_call_id"),
                name=m.get("name"),
            )
        )
    return out


def _json_or(value: Any) -> Any:
    parsed = parse_json(value)
    return value if parsed is None else parsed


def _genai_message(raw: Any, default_role: str) -> Message | None:
    if not isinstance(raw, dict):
        return None
    texts: list[str] = []
    calls: list[ToolCall] = []
    answered: str | None = None
    for part in raw.get("parts") or ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif kind == "tool_call":
            arguments = _json_or(part.get("arguments"))
            calls.append(ToolCall(part.get("id"), part.get("name"), arguments))
        elif kind == "tool_call_response":
            answered = part.get("id")
            result = part.get("response", part.get("result"))
            texts.append(result if isinstance(result, str) else _dump(result))
    if isinstance(raw.get("content"), str):  # older flat shape
        texts.append(raw["content"])
    return Message(
        role=str(raw.get("role") or default_role),
        content="\n\n".join(texts) or None,
        tool_calls=tuple(calls),
        tool_call_id=answered or raw.get("tool_call_id"),
        name=raw.get("name"),
    )


def _dump(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _genai_messages(attrs: dict[str, Any], key: str, default_role: str) -> list[Message]:
    raw = parse_json(attrs.get(key))
    if not isinstance(raw, list):
        return []
    messages = (_genai_message(m, default_role) for m in raw)
    return [m for m in messages if m is not None]


def span_messages(span: Span) -> tuple[list[Message], list[Message]]:
    """The span's (input, output) chat messages; system instructions come first in input."""
    attrs = span.attributes
    inputs = _oi_messages(attrs, sc.LLM_INPUT_MESSAGES)
    outputs = _oi_messages(attrs, sc.LLM_OUTPUT_MESSAGES)
    if not inputs:
        system = parse_json(attrs.get("gen_ai.system_instructions"))
        if isinstance(system, list):
            text = "\n\n".join(
                p.get("content", "") for p in system if isinstance(p, dict) and p.get("content")
            )
            if text:
                inputs.append(Message("system", text))
        elif isinstance(attrs.get("gen_ai.system_instructions"), str):
            inputs.append(Message("system", attrs["gen_ai.system_instructions"]))
        inputs.extend(_genai_messages(attrs, "gen_ai.input.messages", "user"))
    if not outputs:
        outputs = _genai_messages(attrs, "gen_ai.output.messages", "assistant")
    return inputs, outputs


def exceptions(span: Span) -> list[ExceptionInfo]:
    """The span's ``exception`` events (type, message, stack trace), in order."""
    out = []
    for event in span.events:
        if event.get("name") != "exception":
            continue
        a = event.get("attributes") or {}
        out.append(
            ExceptionInfo(
                a.get("exception.type"), a.get("exception.message"), a.get("exception.stacktrace")
            )
        )
    return out


def link_tool_calls(spans: Iterable[Span]) -> ToolLinks:
    """Match each TOOL span to the LLM call that requested it.

    Walks the spans in start order: a TOOL span answers the earliest still-open request
    with its call id (GenAI ``gen_ai.tool.call.id``), else with its tool name.
    """
    links = ToolLinks()
    pending: list[tuple[str, int, dict[str, Any]]] = []
    for s in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        if s.kind == SpanKind.LLM:
            pending.extend((s.span_id, i, c) for i, c in enumerate(span_tool_calls(s)))
        elif s.kind == SpanKind.TOOL:
            ran = span_tool_calls(s)[0]
            for n, (llm_id, i, call) in enumerate(pending):
                same_id = ran["id"] is not None and call["id"] == ran["id"]
                if same_id or (ran["id"] is None and call["name"] == ran["name"]):
                    links.ran_by[(llm_id, i)] = s.span_id
                    links.requested_by[s.span_id] = (llm_id, i)
                    del pending[n]
                    break
    return links
