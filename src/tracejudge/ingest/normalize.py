"""Normalize a :class:`RawSpan` of any convention into the canonical :class:`Span`.

Apps speak OpenInference (``openinference.span.kind``, ``input.value``, flattened
``llm.input_messages.N...``), OTel GenAI (``gen_ai.*`` attributes, JSON message
attributes, older per-message span events) or OpenLLMetry/traceloop
(``gen_ai.prompt.N.content``, ``llm.request.type``). Evaluators and filters should not
care, so this derives one set of columns (kind, input, output, model, provider, tokens,
session, user, tags) and leaves every raw attribute, event, link, resource and scope
exactly as sent.

Two promises: normalization never raises on odd attribute values (wrong types, broken
JSON: the derived column is just left empty), and it is cheap, because it runs once per
ingested span. Known keys are read with dict lookups; the full key set is scanned once,
and only for the rare inline-feedback prefixes.

Inline feedback becomes :class:`Evaluation` records: every ``gen_ai.evaluation.result``
span event, and OpenInference ``annotations.N.annotation.*`` / ``evaluations.N.evaluation.*``
attributes. Their ids are uuid5 of (trace, span, source, index), so a re-sent span never
duplicates them.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tracejudge import semconv as sc
from tracejudge.ingest.raw import RawSpan
from tracejudge.model import Evaluation, EvaluationSource, Span, SpanKind

__all__ = ["evaluation_id", "message_text", "normalize"]

_KINDS = frozenset(k.value for k in SpanKind)
_GENAI_OPERATION_KINDS = {
    "chat": SpanKind.LLM.value,
    "text_completion": SpanKind.LLM.value,
    "generate_content": SpanKind.LLM.value,
    "embeddings": SpanKind.EMBEDDING.value,
    "execute_tool": SpanKind.TOOL.value,
    "invoke_agent": SpanKind.AGENT.value,
    "create_agent": SpanKind.AGENT.value,
}
# OpenLLMetry (traceloop) spellings.
_TRACELOOP_REQUEST_KINDS = {
    "chat": SpanKind.LLM.value,
    "completion": SpanKind.LLM.value,
    "embedding": SpanKind.EMBEDDING.value,
    "rerank": SpanKind.RERANKER.value,
}
_TRACELOOP_SPAN_KINDS = {
    "workflow": SpanKind.CHAIN.value,
    "task": SpanKind.CHAIN.value,
    "agent": SpanKind.AGENT.value,
    "tool": SpanKind.TOOL.value,
}
_FEEDBACK_PREFIXES = (sc.ANNOTATIONS_PREFIX, sc.EVALUATIONS_PREFIX)
_EVAL_NAMESPACE = uuid.UUID("6c1f0d0e-8a53-5b7e-9a0c-7472616365a1")  # fixed forever: ids are stored

_PROMPT_TOKEN_KEYS = (
    sc.LLM_TOKEN_COUNT_PROMPT,
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_PROMPT_TOKENS,
    "llm.usage.prompt_tokens",
)
_COMPLETION_TOKEN_KEYS = (
    sc.LLM_TOKEN_COUNT_COMPLETION,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_COMPLETION_TOKENS,
    "llm.usage.completion_tokens",
)
_MODEL_KEYS = (sc.LLM_MODEL_NAME, sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL)
_PROVIDER_KEYS = (sc.LLM_PROVIDER, sc.LLM_SYSTEM, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM)
_SESSION_KEYS = (sc.SESSION_ID, sc.GEN_AI_CONVERSATION_ID)
# Any key the model/provider/token columns can come from: most spans (AGENT, CHAIN, TOOL,
# RETRIEVER) have none, and one C-level disjointness test then skips four lookups.
_MODEL_OR_USAGE_KEYS = frozenset(
    _MODEL_KEYS + _PROVIDER_KEYS + _PROMPT_TOKEN_KEYS + _COMPLETION_TOKEN_KEYS
)
_USER_MESSAGE_EVENT = "gen_ai.user.message"
_PROMPT_CONTENT_EVENT = "gen_ai.content.prompt"  # even older: whole prompt as one JSON attribute
_COMPLETION_CONTENT_EVENT = "gen_ai.content.completion"


# --- lenient coercions: never raise -------------------------------------------------------
def _as_text(value: Any) -> str | None:
    """Any attribute value as display text (JSON for lists/dicts); None for None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


def _as_name(value: Any) -> str | None:
    """A short identifier (model, provider, id): strings and numbers only, never empty."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _json(value: Any) -> Any:
    """A JSON-string attribute parsed, or an already-structured value as is; None if broken."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...], coerce: Any) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            converted = coerce(value)
            if converted is not None:
                return converted
    return None


def _span_builder() -> Callable[..., Span]:
    """A constructor for :class:`Span` taking every field positionally, in field order.

    The frozen dataclass ``__init__`` sets each of the 28 fields with
    ``object.__setattr__`` (~3x the cost of plain slot stores). This builds the span as an
    instance of a mutable twin class with the very same slots, sets them with plain
    attribute stores, then switches its ``__class__`` to ``Span`` (allowed: identical
    layout). The result is an ordinary frozen ``Span``; the code is generated from
    ``dataclasses.fields`` like the dataclass ``__init__`` itself, so it cannot drift. Should
    ``Span`` ever grow a ``__post_init__`` or lose its slots, the real constructor is used.
    """
    names = [f.name for f in dataclasses.fields(Span)]
    if hasattr(Span, "__post_init__") or tuple(getattr(Span, "__slots__", ())) != tuple(names):
        return Span
    twin = type("_MutableSpan", (), {"__slots__": tuple(names), "__module__": __name__})
    stores = "".join(f"    s.{name} = {name}\n" for name in names)
    source = (
        f"def build({', '.join(names)}):\n    s = new(twin)\n{stores}"
        "    s.__class__ = span_class\n    return s\n"
    )
    namespace: dict[str, Any] = {"new": object.__new__, "twin": twin, "span_class": Span}
    exec(source, namespace)  # source built from our own dataclass field names only
    build: Callable[..., Span] = namespace["build"]
    build.__qualname__ = build.__name__ = "_new_span"
    return build


_new_span = _span_builder()


# --- messages -----------------------------------------------------------------------------
def message_text(message: Any) -> str | None:
    """Text of one chat message in any of the shapes seen on spans.

    GenAI ``{"role", "parts": [{"type": "text", "content"}]}``, OpenAI-style
    ``{"role", "content": str | [{"type": "text", "text"}]}``, or a bare string.
    """
    if isinstance(message, str):
        return message
    if not isinstance(message, dict):
        return None
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [
            p["content"]
            for p in parts
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("content"), str)
        ]
        if texts:
            return "\n".join(texts)
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p.get("text") or p.get("content")
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text") or p.get("content"), str)
        ]
        if texts:
            return "\n".join(texts)
    inner = message.get("message")  # gen_ai.choice events nest the message
    if isinstance(inner, dict | str) and inner is not message:
        return message_text(_json(inner))
    return None


def _tool_calls_text(message: Any) -> str | None:
    """A message's tool calls as compact JSON, for outputs that are only tool calls."""
    if not isinstance(message, dict):
        return None
    calls = [
        {"name": p.get("name"), "arguments": p.get("arguments")}
        for p in message.get("parts") or ()
        if isinstance(p, dict) and p.get("type") == "tool_call"
    ]
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            fn = call.get("function") if isinstance(call.get("function"), dict) else call
            calls.append({"name": fn.get("name"), "arguments": fn.get("arguments")})
    return _as_text(calls) if calls else None


def _last_user_text(messages: Any) -> str | None:
    """Text of the last ``user`` message of a list (else of the last message with text)."""
    if not isinstance(messages, list):
        return None
    fallback = None
    for message in reversed(messages):
        text = message_text(message)
        if text is None:
            continue
        if isinstance(message, dict) and message.get("role") == "user":
            return text
        if fallback is None:
            fallback = text
    return fallback


def _first_output_text(messages: Any) -> str | None:
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        return None
    for message in messages:
        text = message_text(message)
        if text:
            return text
    for message in messages:
        calls = _tool_calls_text(message)
        if calls:
            return calls
    return None


def _flattened(attrs: Mapping[str, Any], prefix: str, role_key: str, content_key: str) -> list[Any]:
    """``prefix.N.role``/``prefix.N.content`` attributes -> [{"role", "content"}], N = 0, 1, ..."""
    out: list[Any] = []
    i = 0
    while True:
        base = f"{prefix}.{i}."
        role = attrs.get(base + role_key)
        content = attrs.get(base + content_key)
        if role is None and content is None:
            # Multimodal OpenInference messages keep text under message.contents.K...
            content = attrs.get(base + "message.contents.0.message_content.text")
            if content is None:
                return out
        out.append({"role": role, "content": content if isinstance(content, str) else None})
        i += 1


def _derive_input(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> str | None:
    text = _last_user_text(_json(attrs.get(sc.GEN_AI_INPUT_MESSAGES)))
    if text is None and f"{sc.LLM_INPUT_MESSAGES}.0.message.role" in attrs:
        text = _last_user_text(
            _flattened(attrs, sc.LLM_INPUT_MESSAGES, sc.MESSAGE_ROLE, sc.MESSAGE_CONTENT)
        )
    if text is None and "gen_ai.prompt.0.content" in attrs:
        text = _last_user_text(_flattened(attrs, "gen_ai.prompt", "role", "content"))
    if text is None and events:
        for event in reversed(events):
            name = event.get("name")
            ev_attrs = event.get("attributes") or {}
            if name == _USER_MESSAGE_EVENT:
                text = message_text(ev_attrs) or _as_text(ev_attrs.get("content"))
            elif name == _PROMPT_CONTENT_EVENT:
                text = _last_user_text(_json(ev_attrs.get("gen_ai.prompt")))
            if text is not None:
                break
    return text


def _derive_output(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> str | None:
    text = _first_output_text(_json(attrs.get(sc.GEN_AI_OUTPUT_MESSAGES)))
    if text is None and f"{sc.LLM_OUTPUT_MESSAGES}.0.message.role" in attrs:
        text = _first_output_text(
            _flattened(attrs, sc.LLM_OUTPUT_MESSAGES, sc.MESSAGE_ROLE, sc.MESSAGE_CONTENT)
        )
    if text is None and "gen_ai.completion.0.content" in attrs:
        text = _first_output_text(_flattened(attrs, "gen_ai.completion", "role", "content"))
    if text is None and events:
        for event in events:
            name = event.get("name")
            ev_attrs = event.get("attributes") or {}
            if name == sc.GEN_AI_CHOICE_EVENT:
                text = message_text(ev_attrs) or _tool_calls_text(_json(ev_attrs.get("message")))
            elif name == _COMPLETION_CONTENT_EVENT:
                text = _first_output_text(_json(ev_attrs.get("gen_ai.completion")))
            if text is not None:
                break
    return text


# --- kind, tags -----------------------------------------------------------------------------
def _derive_kind(attrs: Mapping[str, Any]) -> str:
    oi = attrs.get(sc.OI_SPAN_KIND)
    if isinstance(oi, str):
        upper = oi.upper()
        if upper in _KINDS:
            return upper
    op = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if isinstance(op, str) and op in _GENAI_OPERATION_KINDS:
        return _GENAI_OPERATION_KINDS[op]
    request_type = attrs.get("llm.request.type")
    if isinstance(request_type, str) and request_type in _TRACELOOP_REQUEST_KINDS:
        return _TRACELOOP_REQUEST_KINDS[request_type]
    traceloop_kind = attrs.get("traceloop.span.kind")
    if isinstance(traceloop_kind, str) and traceloop_kind in _TRACELOOP_SPAN_KINDS:
        return _TRACELOOP_SPAN_KINDS[traceloop_kind]
    return SpanKind.UNKNOWN.value


def _derive_tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parsed = _json(value) if value.startswith("[") else None
        value = parsed if isinstance(parsed, list) else [value]
    if isinstance(value, list | tuple):
        return tuple(t for t in (_as_name(v) for v in value) if t is not None)
    return ()


# --- evaluations --------------------------------------------------------------------------
def evaluation_id(trace_id: str, span_id: str, source: str, index: int) -> str:
    """Deterministic id of inline feedback: the same span re-sent gives the same ids."""
    return str(uuid.uuid5(_EVAL_NAMESPACE, f"{trace_id}/{span_id}/{source}/{index}"))


def _event_evaluations(raw: RawSpan, project: str) -> list[Evaluation]:
    out = []
    for index, event in enumerate(raw.events):
        if event.get("name") != sc.GEN_AI_EVALUATION_RESULT:
            continue
        a = event.get("attributes") or {}
        time_ns = _as_int(event.get("time_ns"))
        out.append(
            Evaluation(
                id=evaluation_id(raw.trace_id, raw.span_id, "event", index),
                trace_id=raw.trace_id,
                span_id=raw.span_id,
                project=project,
                name=_as_name(a.get(sc.GEN_AI_EVALUATION_NAME)) or "unnamed",
                score=_as_float(a.get(sc.GEN_AI_EVALUATION_SCORE_VALUE)),
                label=_as_text(a.get(sc.GEN_AI_EVALUATION_SCORE_LABEL)),
                explanation=_as_text(a.get(sc.GEN_AI_EVALUATION_EXPLANATION)),
                evaluator=_as_name(a.get(sc.TJ_EVALUATOR)),
                source=EvaluationSource.INLINE.value,
                judge_model=_as_name(a.get(sc.TJ_EVALUATION_JUDGE_MODEL)),
                latency_ms=_as_float(a.get(sc.TJ_EVALUATION_LATENCY_MS)),
                error=_as_text(a.get(sc.TJ_EVALUATION_ERROR)),
                created_at_ns=time_ns if time_ns else raw.end_ns,
            )
        )
    return out


def _attribute_evaluations(raw: RawSpan, project: str, keys: list[str]) -> list[Evaluation]:
    """OpenInference ``annotations.N.annotation.*`` / ``evaluations.N.evaluation.*``."""
    groups: dict[tuple[str, int], dict[str, Any]] = {}
    for key in keys:
        prefix, _, rest = key.partition(".")
        index, _, field = rest.partition(".")
        singular = prefix[:-1]  # annotations -> annotation
        if not index.isdigit() or not field.startswith(singular + "."):
            continue
        field = field[len(singular) + 1 :]
        groups.setdefault((prefix, int(index)), {})[field] = raw.attributes[key]
    out = []
    for (prefix, index), fields in sorted(groups.items()):
        out.append(
            Evaluation(
                id=evaluation_id(raw.trace_id, raw.span_id, prefix, index),
                trace_id=raw.trace_id,
                span_id=raw.span_id,
                project=project,
                name=_as_name(fields.get("name")) or "unnamed",
                score=_as_float(fields.get("score")),
                label=_as_text(fields.get("label")),
                explanation=_as_text(fields.get("explanation")),
                evaluator=_as_name(fields.get("evaluator")),
                source=EvaluationSource.INLINE.value,
                created_at_ns=raw.end_ns,
            )
        )
    return out


# --- entry point --------------------------------------------------------------------------
def normalize(raw: RawSpan, project: str) -> tuple[Span, list[Evaluation]]:
    """Build the canonical span (and its inline evaluations) from a raw span.

    Example::

        span, evaluations = normalize(raw, project="support-bot")

    ``project`` is already resolved (see :func:`tracejudge.ingest.project.resolve_project`).
    Raw fields are kept as the same objects (not copied); ``content_hash`` is left for the
    store to compute. Never raises on attribute contents.
    """
    attrs = raw.attributes
    events = raw.events
    get = attrs.get

    # Fast paths: the first-choice key with the expected type; else the lenient lookup.
    inp = get(sc.INPUT_VALUE)
    if type(inp) is not str:
        inp = _as_text(inp) if inp is not None else _derive_input(attrs, events)
    out = get(sc.OUTPUT_VALUE)
    if type(out) is not str:
        out = _as_text(out) if out is not None else _derive_output(attrs, events)
    if _MODEL_OR_USAGE_KEYS.isdisjoint(attrs):
        model = provider = prompt_tokens = completion_tokens = None
    else:
        model = get(sc.LLM_MODEL_NAME)
        if type(model) is not str or not model:
            model = _first(attrs, _MODEL_KEYS, _as_name)
        provider = get(sc.LLM_PROVIDER)
        if type(provider) is not str or not provider:
            provider = _first(attrs, _PROVIDER_KEYS, _as_name)
        prompt_tokens = get(sc.LLM_TOKEN_COUNT_PROMPT)
        if type(prompt_tokens) is not int:
            prompt_tokens = _first(attrs, _PROMPT_TOKEN_KEYS, _as_int)
        completion_tokens = get(sc.LLM_TOKEN_COUNT_COMPLETION)
        if type(completion_tokens) is not int:
            completion_tokens = _first(attrs, _COMPLETION_TOKEN_KEYS, _as_int)
    session_id = get(sc.SESSION_ID)
    if type(session_id) is not str or not session_id:
        session_id = _first(attrs, _SESSION_KEYS, _as_name)
    user_id = get(sc.USER_ID)
    if user_id is not None and type(user_id) is not str:
        user_id = _as_name(user_id)
    tags = get(sc.TAG_TAGS)

    evaluations: list[Evaluation] = _event_evaluations(raw, project) if events else []
    # One C-level join instead of a Python loop over keys: inline feedback is rare.
    joined = "\x00".join(attrs)
    if (
        joined.startswith(_FEEDBACK_PREFIXES)
        or "\x00annotations." in joined
        or "\x00evaluations." in joined
    ):
        feedback_keys = [k for k in attrs if k.startswith(_FEEDBACK_PREFIXES)]
        evaluations.extend(_attribute_evaluations(raw, project, feedback_keys))

    span = _new_span(
        raw.trace_id,
        raw.span_id,
        raw.parent_span_id,
        project,
        raw.name,
        _derive_kind(attrs),  # kind
        raw.status_code,
        raw.status_message,
        raw.start_ns,
        raw.end_ns,
        attrs,
        events,
        raw.links,
        raw.resource,
        raw.scope,
        raw.otel_kind,
        inp,
        out,
        model,
        provider,
        prompt_tokens,
        completion_tokens,
        session_id or None,
        user_id or None,
        _derive_tags(tags) if tags is not None else (),
        "",  # content_hash: the store computes it
        None,  # ingest_seq
        None,  # ingested_at_ns
    )
    return span, evaluations
