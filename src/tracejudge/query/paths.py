"""Attribute paths: name an evaluator input by where it already lives on a span.

An evaluator never needs a column mapping: its inputs are *paths* resolved on the span it
judges (and that span's trace). Resolution order for a path on one span:

1. the exact attribute key (``llm.output_messages.0.message.content``);
2. the longest attribute key that is a prefix of the path, then descent into its value,
   JSON strings parsed on the way (``gen_ai.output.messages.0.parts.0.content``,
   ``llm.tools.0.tool.json_schema.function.name``); list indexes may be negative;
3. an alias on the canonical record, optionally followed by descent: ``input``, ``output``,
   ``model``, ``provider``, ``status``, ``status_message``, ``latency_ms``, ``name``,
   ``kind``, ``span_id``, ``trace_id``, ``session_id``, ``user_id``, ``tags``,
   ``prompt_tokens``, ``completion_tokens``, ``total_tokens``, and the structured
   ``documents`` (this span's retrieved documents: ``{content, id, score[, metadata]}``),
   ``tool_calls`` (tool calls this span made or ran: ``{name, arguments, id[, result]}``),
   ``tools`` (tools declared to the model: ``{name, description, parameters}``);
4. flattened keys under the path, rebuilt into lists/dicts (``llm.output_messages`` ->
   ``[{"message": {"role": ..., "content": ...}}]``, ``retrieval.documents``).

Trace-scoped paths read the surrounding trace (a stored :class:`~tracejudge.model.Trace`, or
the in-memory view of a live one):

* ``trace.input`` / ``trace.output`` -- the root span's input/output;
* ``trace.documents`` -- documents of the trace's RETRIEVER spans that ended before this
  span ended, in start order;
* ``trace.tool_calls`` -- every tool call of the trace, ``{name, arguments, result, id}``:
  calls the model requested (LLM output messages) joined with the TOOL spans that ran them
  (by call id, else by name, in order), plus TOOL spans no model asked for;
* ``trace.tools`` -- tools declared on the trace's LLM spans, one per name;
* ``trace.root.<path>`` -- ``<path>`` on the root span;
* ``trace.spans[<selector>].<path>`` -- a list: ``<path>`` on EVERY matching span of the
  trace, in start order (spans where it does not resolve are skipped). The selector is a
  comma-separated list of ``key=value`` or ``key!=value`` conditions, all of which must
  hold; ``key`` is itself a path on each span (``kind``, ``name``, ``tool.name``, ...)
  compared as text. ``trace.spans[kind=TOOL].output`` is the output of every TOOL span;
  ``trace.spans[kind=LLM,model=gpt-4o]`` (no ``.<path>``) the matching span records.

A path that does not resolve raises :class:`~tracejudge.errors.PathError` naming the path
and the closest keys that exist. An alias whose value is absent (``output`` of a span
without output) resolves to ``None``. Paths are parsed once and cached.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

from tracejudge import semconv as sc
from tracejudge.errors import PathError
from tracejudge.model import Span, SpanKind, Trace

__all__ = [
    "SPAN_ALIASES",
    "TRACE_PATHS",
    "compile_path",
    "resolve",
    "span_documents",
    "span_tool_calls",
    "span_tools",
    "trace_documents",
    "trace_tool_calls",
    "trace_tools",
    "unflatten",
]

Resolver = Callable[[Span, "Trace | None"], Any]

_CLOSEST = 5
_SPANS_RE = re.compile(r"^trace\.spans(?:\[(?P<sel>[^\]]*)\])?(?:\.(?P<rest>.+))?$")
_COND_RE = re.compile(r"^\s*(?P<key>[^=!\s][^=!]*?)\s*(?P<op>!=|=)\s*(?P<value>.*?)\s*$")
_MISSING = object()


# --- value helpers --------------------------------------------------------------------------
def _parsed(value: Any) -> Any:
    """A JSON-looking string parsed (objects and arrays only); anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _unflatten(attrs: Mapping[str, Any], prefix: str) -> Any:
    """Keys ``prefix.a.b`` rebuilt into nested dicts; all-digit dict keys become lists."""
    start = prefix + "."
    tree: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        node = tree
        parts = key[len(start) :].split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _listify(tree) if tree else _MISSING


def unflatten(attrs: Mapping[str, Any], prefix: str) -> Any:
    """Flattened attributes under ``prefix`` as one value, or None when there are none.

    ``{"llm.input_messages.0.message.role": "user"}`` under ``"llm.input_messages"`` is
    ``[{"message": {"role": "user"}}]``: dotted keys become nested dicts and dicts whose
    keys are all digits become lists (in index order), as OpenInference flattens them.
    """
    tree = _unflatten(attrs, prefix)
    return None if tree is _MISSING else tree


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def _descend(value: Any, segments: Sequence[str], path: str) -> Any:
    """Walk ``segments`` into ``value`` (dicts by key, lists by index, JSON strings parsed)."""
    i = 0
    while i < len(segments):
        value = _parsed(value)
        seg = segments[i]
        if isinstance(value, Mapping):
            # Dict keys may contain dots themselves: take the longest that matches.
            for j in range(len(segments), i, -1):
                key = ".".join(segments[i:j])
                if key in value:
                    value, i = value[key], j
                    break
            else:
                raise PathError(path, f"no key {seg!r}", _closest(seg, [str(k) for k in value]))
            continue
        if isinstance(value, list):
            try:
                value = value[int(seg)]
            except (ValueError, IndexError):
                raise PathError(
                    path, f"{seg!r} is not an index of a list of {len(value)}"
                ) from None
            i += 1
            continue
        raise PathError(path, f"cannot descend into a {type(value).__name__} at {seg!r}")
    return value


def _closest(word: str, candidates: Sequence[str]) -> tuple[str, ...]:
    close = difflib.get_close_matches(word, candidates, n=_CLOSEST, cutoff=0.4)
    return tuple(close) if close else tuple(sorted(candidates)[:_CLOSEST])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# --- structured views of one span -----------------------------------------------------------
def span_documents(span: Span) -> list[dict[str, Any]]:
    """Retrieved documents on this span: ``[{content, id, score[, metadata]}]``."""
    attrs = span.attributes
    out: list[dict[str, Any]] = []
    i = 0
    while True:
        base = f"{sc.RETRIEVAL_DOCUMENTS}.{i}."
        content = attrs.get(base + sc.DOCUMENT_CONTENT)
        doc_id = attrs.get(base + sc.DOCUMENT_ID)
        if content is None and doc_id is None:
            return out
        doc: dict[str, Any] = {
            "content": content,
            "id": doc_id,
            "score": attrs.get(base + sc.DOCUMENT_SCORE),
        }
        meta = attrs.get(base + sc.DOCUMENT_METADATA)
        if meta is not None:
            doc["metadata"] = _parsed(meta)
        out.append(doc)
        i += 1


def _call(name: Any, arguments: Any, call_id: Any) -> dict[str, Any]:
    return {"name": name, "arguments": _parsed(arguments), "id": call_id}


def _requested_calls(span: Span) -> list[dict[str, Any]]:
    """Tool calls in the model's output messages (OpenInference flattened or GenAI JSON)."""
    attrs = span.attributes
    calls: list[dict[str, Any]] = []
    messages = _unflatten(attrs, sc.LLM_OUTPUT_MESSAGES)
    for message in messages if isinstance(messages, list) else ():
        inner = message.get("message") if isinstance(message, dict) else None
        for tc in (inner or {}).get("tool_calls") or ():
            fn = ((tc or {}).get("tool_call") or {}).get("function") or {}
            tid = ((tc or {}).get("tool_call") or {}).get("id")
            calls.append(_call(fn.get("name"), fn.get("arguments"), tid))
    genai = _parsed(attrs.get(sc.GEN_AI_OUTPUT_MESSAGES))
    for message in genai if isinstance(genai, list) else ():
        for part in (message.get("parts") or ()) if isinstance(message, dict) else ():
            if isinstance(part, dict) and part.get("type") == "tool_call":
                calls.append(_call(part.get("name"), part.get("arguments"), part.get("id")))
    return calls


def _executed_call(span: Span) -> dict[str, Any]:
    """The call a TOOL span ran, with its result."""
    a = span.attributes
    name = a.get(sc.TOOL_NAME) or a.get(sc.GEN_AI_TOOL_NAME) or span.name
    args = a.get(sc.GEN_AI_TOOL_CALL_ARGUMENTS)
    if args is None:
        args = a.get(sc.INPUT_VALUE, a.get(sc.TOOL_PARAMETERS))
    result = a.get(sc.GEN_AI_TOOL_CALL_RESULT, a.get(sc.OUTPUT_VALUE))
    call = _call(name, args, a.get(sc.GEN_AI_TOOL_CALL_ID))
    call["result"] = _parsed(result)
    return call


def span_tool_calls(span: Span) -> list[dict[str, Any]]:
    """Tool calls of this span: the call a TOOL span ran (with ``result``), else the calls
    in an LLM span's output messages. ``arguments`` are parsed when JSON."""
    if span.kind == SpanKind.TOOL:
        return [_executed_call(span)]
    return _requested_calls(span)


def _tool_definition(value: Any) -> dict[str, Any] | None:
    value = _parsed(value)
    if not isinstance(value, dict):
        return None
    inner = value.get("function")
    fn: dict[str, Any] = inner if isinstance(inner, dict) else value
    if not fn.get("name"):
        return None
    params = _parsed(fn.get("parameters", fn.get("input_schema")))
    return {"name": fn["name"], "description": fn.get("description"), "parameters": params}


def span_tools(span: Span) -> list[dict[str, Any]]:
    """Tools declared to the model on this span (``llm.tools.N.tool.json_schema`` or
    ``gen_ai.tool.definitions``): ``[{name, description, parameters}]``."""
    attrs = span.attributes
    out: list[dict[str, Any]] = []
    i = 0
    while (schema := attrs.get(f"{sc.LLM_TOOLS}.{i}.tool.json_schema")) is not None:
        if (tool := _tool_definition(schema)) is not None:
            out.append(tool)
        i += 1
    genai = _parsed(attrs.get("gen_ai.tool.definitions"))
    for item in genai if isinstance(genai, list) else ():
        if (tool := _tool_definition(item)) is not None:
            out.append(tool)
    return out


# --- structured views of a trace ------------------------------------------------------------
def _ordered(trace: Trace) -> list[Span]:
    return sorted(trace.spans, key=lambda s: (s.start_ns, s.span_id))


def trace_documents(trace: Trace, span: Span) -> list[dict[str, Any]]:
    """Documents of the trace's RETRIEVER spans that ended before ``span`` ended."""
    return [
        doc
        for s in _ordered(trace)
        if s.kind == SpanKind.RETRIEVER and s.end_ns <= span.end_ns
        for doc in span_documents(s)
    ]


def trace_tool_calls(trace: Trace) -> list[dict[str, Any]]:
    """Every tool call of the trace: requested calls joined with the TOOL spans that ran them."""
    calls: list[dict[str, Any]] = []
    for s in _ordered(trace):
        if s.kind == SpanKind.TOOL:
            ran = _executed_call(s)
            match = next(
                (
                    c
                    for c in calls
                    if "result" not in c
                    and (
                        (ran["id"] is not None and c["id"] == ran["id"])
                        or (ran["id"] is None and c["name"] == ran["name"])
                    )
                ),
                None,
            )
            if match is None:
                calls.append(ran)
            else:
                match["result"] = ran["result"]
                if match["arguments"] is None:
                    match["arguments"] = ran["arguments"]
        elif s.kind == SpanKind.LLM:
            calls.extend(_requested_calls(s))
    for c in calls:
        c.setdefault("result", None)
    return calls


def trace_tools(trace: Trace) -> list[dict[str, Any]]:
    """Tools declared on the trace's LLM spans, first definition of each name."""
    seen: dict[str, dict[str, Any]] = {}
    for s in _ordered(trace):
        for tool in span_tools(s):
            seen.setdefault(tool["name"], tool)
    return list(seen.values())


def _total_tokens(span: Span) -> int | None:
    if span.prompt_tokens is None and span.completion_tokens is None:
        return None
    return (span.prompt_tokens or 0) + (span.completion_tokens or 0)


SPAN_ALIASES: dict[str, Callable[[Span], Any]] = {
    "input": lambda s: s.input,
    "output": lambda s: s.output,
    "model": lambda s: s.model,
    "provider": lambda s: s.provider,
    "status": lambda s: s.status,
    "status_message": lambda s: s.status_message,
    "latency_ms": lambda s: s.latency_ms,
    "name": lambda s: s.name,
    "kind": lambda s: s.kind,
    "span_id": lambda s: s.span_id,
    "trace_id": lambda s: s.trace_id,
    "session_id": lambda s: s.session_id,
    "user_id": lambda s: s.user_id,
    "tags": lambda s: list(s.tags),
    "prompt_tokens": lambda s: s.prompt_tokens,
    "completion_tokens": lambda s: s.completion_tokens,
    "total_tokens": _total_tokens,
    "documents": span_documents,
    "tool_calls": span_tool_calls,
    "tools": span_tools,
}


def _root(trace: Trace, path: str) -> Span:
    root = trace.root or next(iter(trace.roots), None)
    if root is None:
        raise PathError(path, "the trace has no spans")
    return root


TRACE_PATHS: dict[str, Callable[[Span, Trace, str], Any]] = {
    "trace.input": lambda s, t, p: _root(t, p).input,
    "trace.output": lambda s, t, p: _root(t, p).output,
    "trace.documents": lambda s, t, p: trace_documents(t, s),
    "trace.tool_calls": lambda s, t, p: trace_tool_calls(t),
    "trace.tools": lambda s, t, p: trace_tools(t),
}


# --- compilation ----------------------------------------------------------------------------
def _local_resolver(path: str) -> Callable[[Span], Any]:
    """A resolver of a span-local path (steps 1-4 of the module docstring)."""
    if not path or path.strip() != path:
        raise PathError(path, "a path is a non-empty dotted name without surrounding spaces")
    segments = path.split(".")
    if any(not seg for seg in segments):
        raise PathError(path, "empty segment (two dots in a row, or a leading/trailing dot)")
    prefixes = [(".".join(segments[:j]), segments[j:]) for j in range(len(segments) - 1, 0, -1)]
    alias = SPAN_ALIASES.get(segments[0])

    def resolve_local(span: Span) -> Any:
        attrs = span.attributes
        value = attrs.get(path, _MISSING)
        if value is not _MISSING:
            return value
        for key, rest in prefixes:
            if key in attrs:
                return _descend(attrs[key], rest, path)
        if alias is not None:
            head = alias(span)
            if len(segments) == 1 or head is None:
                return head
            return _descend(head, segments[1:], path)
        rebuilt = _unflatten(attrs, path)
        if rebuilt is not _MISSING:
            return rebuilt
        for key, rest in prefixes:
            rebuilt = _unflatten(attrs, key)
            if rebuilt is not _MISSING:
                try:
                    return _descend(rebuilt, rest, path)
                except PathError:
                    break  # name the closest full keys, not the rebuilt structure's
        candidates = [*attrs, *SPAN_ALIASES, *TRACE_PATHS]
        raise PathError(
            path, f"not found on span {span.span_id} ({span.name})", _closest(path, candidates)
        )

    return resolve_local


def _selector(path: str, text: str) -> Callable[[Span], bool]:
    conditions: list[tuple[Callable[[Span], Any], bool, str]] = []
    for part in (p for p in text.split(",") if p.strip()):
        m = _COND_RE.match(part)
        if m is None:
            raise PathError(path, f"bad selector condition {part.strip()!r}: expected key=value")
        conditions.append((_local_resolver(m["key"]), m["op"] == "=", m["value"]))

    def matches(span: Span) -> bool:
        for get, equal, expected in conditions:
            try:
                value = get(span)
            except PathError:
                value = None
            text_value = _text(value)
            if (text_value == expected) != equal:
                return False
        return True

    return matches


def _spans_resolver(path: str, m: re.Match[str]) -> Resolver:
    matches = _selector(path, m["sel"] or "")
    rest = m["rest"]
    inner = _local_resolver(rest) if rest else None

    def resolve_spans(span: Span, trace: Trace | None) -> Any:
        picked = [s for s in _ordered(_trace_of(span, trace)) if matches(s)]
        if inner is None:
            return picked
        out = []
        for s in picked:
            try:
                out.append(inner(s))
            except PathError:
                continue
        return out

    return resolve_spans


def _trace_of(span: Span, trace: Trace | None) -> Trace:
    """The trace to read trace-scoped paths from; without one, the span alone."""
    return trace if trace is not None else Trace(span.trace_id, (span,))


@lru_cache(maxsize=4096)
def compile_path(path: str) -> Resolver:
    """Parse ``path`` once; returns ``resolver(span, trace=None) -> value``.

    Raises:
        PathError: the path is malformed (empty segment, bad selector). A path that is
            well-formed but absent on a span raises when the resolver is called.
    """
    if not isinstance(path, str):
        raise PathError(str(path), f"expected a string path, got {type(path).__name__}")
    if path.startswith("trace.spans"):
        m = _SPANS_RE.match(path)
        if m is None:
            raise PathError(path, "expected trace.spans[key=value,...].<path>")
        return _spans_resolver(path, m)
    if path.startswith("trace.root."):
        local_root = _local_resolver(path[len("trace.root.") :])
        return lambda span, trace: local_root(_root(_trace_of(span, trace), path))
    for name, get in TRACE_PATHS.items():
        if path == name or path.startswith(name + "."):
            segments = path[len(name) + 1 :].split(".") if path != name else []
            local = _local_resolver(path)  # an attribute literally named trace.* wins

            def resolve_trace(
                span: Span,
                trace: Trace | None,
                get: Callable[[Span, Trace, str], Any] = get,
                local: Callable[[Span], Any] = local,
                segments: list[str] = segments,
            ) -> Any:
                if path in span.attributes:
                    return local(span)
                value = get(span, _trace_of(span, trace), path)
                return _descend(value, segments, path) if segments else value

            return resolve_trace
    local = _local_resolver(path)
    return lambda span, trace: local(span)


def resolve(path: str, span: Span, trace: Trace | None = None) -> Any:
    """The value ``path`` names on ``span`` (and its ``trace``, for trace-scoped paths).

    Example::

        resolve("llm.output_messages.0.message.content", span)
        resolve("trace.documents", span, trace)        # [{"content", "id", "score"}, ...]
        resolve("trace.spans[kind=TOOL].output", span, trace)

    Without ``trace``, trace-scoped paths see a trace of this span alone.

    Raises:
        PathError: the path is malformed or does not resolve (names the closest keys).
    """
    return compile_path(path)(span, trace)
