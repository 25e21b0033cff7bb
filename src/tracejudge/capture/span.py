"""``span(name, kind)``: a hand-made span with helpers that write OpenInference keys.

For code that is not one function call (a retrieval step inside a loop, a model call made
through a client with no instrumentor): ``with span("retrieve", kind="RETRIEVER") as s:``
then ``s.set_documents([...])``. Every helper writes the keys from :mod:`tracejudge.semconv`
(OpenInference), so Phoenix and other OpenInference readers understand our spans too.
Helpers never raise into the caller: bad values are serialized to JSON or their repr.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span as OTelSpan
from opentelemetry.trace import Status, StatusCode

from tracejudge import semconv
from tracejudge.capture._state import current_tracer
from tracejudge.capture._values import json_text, otel_value, value_text
from tracejudge.capture.observe import record_exception, validate_kind

__all__ = ["SpanHandle", "message_attributes", "span"]

_log = logging.getLogger(__name__)

_MSG = "message."
_TOOL_CALLS = f"{semconv.MESSAGE_TOOL_CALLS}."


def message_attributes(prefix: str, messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Flattened OpenInference message keys under ``prefix`` (``llm.input_messages``).

    Each message is a dict with ``role``, ``content`` and optionally ``name``,
    ``tool_call_id`` and ``tool_calls`` (``[{id, name, arguments}]``; arguments may be a
    dict, serialized to JSON).
    """
    out: dict[str, Any] = {}
    for i, msg in enumerate(messages):
        base = f"{prefix}.{i}."
        if (role := msg.get("role")) is not None:
            out[base + semconv.MESSAGE_ROLE] = str(role)
        if (content := msg.get("content")) is not None:
            out[base + semconv.MESSAGE_CONTENT] = (
                content if isinstance(content, str) else json_text(content)
            )
        if (name := msg.get("name")) is not None:
            out[base + semconv.MESSAGE_NAME] = str(name)
        if (call_id := msg.get("tool_call_id")) is not None:
            out[base + semconv.MESSAGE_TOOL_CALL_ID] = str(call_id)
        for j, call in enumerate(msg.get("tool_calls") or ()):
            cbase = f"{base}{_TOOL_CALLS}{j}."
            if (cid := call.get("id")) is not None:
                out[cbase + semconv.TOOL_CALL_ID] = str(cid)
            if (fname := call.get("name")) is not None:
                out[cbase + semconv.TOOL_CALL_FUNCTION_NAME] = str(fname)
            if (args := call.get("arguments")) is not None:
                out[cbase + semconv.TOOL_CALL_FUNCTION_ARGUMENTS] = (
                    args if isinstance(args, str) else json_text(args)
                )
    return out


def _document_attributes(documents: Iterable[Any]) -> dict[str, Any]:
    """``retrieval.documents.N.document.*``; a plain string is taken as the content."""
    out: dict[str, Any] = {}
    for i, doc in enumerate(documents):
        base = f"{semconv.RETRIEVAL_DOCUMENTS}.{i}."
        if not isinstance(doc, Mapping):
            doc = {"content": doc}
        if (content := doc.get("content")) is not None:
            out[base + semconv.DOCUMENT_CONTENT] = (
                content if isinstance(content, str) else json_text(content)
            )
        if (doc_id := doc.get("id")) is not None:
            out[base + semconv.DOCUMENT_ID] = str(doc_id)
        if (score := doc.get("score")) is not None:
            try:
                out[base + semconv.DOCUMENT_SCORE] = float(score)
            except (TypeError, ValueError):
                out[base + semconv.DOCUMENT_SCORE] = str(score)
        if (meta := doc.get("metadata")) is not None:
            out[base + semconv.DOCUMENT_METADATA] = json_text(meta)
    return out


class SpanHandle:
    """What ``with span(...) as s`` yields: setters for the OpenInference keys.

    Every setter returns the handle (so calls chain) and never raises; ``otel_span`` is the
    underlying OpenTelemetry span for anything not covered here.
    """

    __slots__ = ("otel_span",)

    def __init__(self, otel_span: OTelSpan) -> None:
        self.otel_span = otel_span

    def _set(self, attributes: Mapping[str, Any]) -> SpanHandle:
        try:
            self.otel_span.set_attributes(attributes)
        except Exception:
            _log.warning("tracejudge: could not set span attributes", exc_info=True)
        return self

    def _guarded(self, build: Any, *args: Any, **kwargs: Any) -> SpanHandle:
        try:
            attrs = build(*args, **kwargs)
        except Exception:
            _log.warning("tracejudge: could not serialize span attributes", exc_info=True)
            return self
        return self._set(attrs)

    def set_input(self, value: Any) -> SpanHandle:
        """``input.value`` (text as is, anything else JSON) and ``input.mime_type``."""
        text, mime = value_text(value)
        return self._set({semconv.INPUT_VALUE: text, semconv.INPUT_MIME_TYPE: mime})

    def set_output(self, value: Any) -> SpanHandle:
        """``output.value`` and ``output.mime_type``."""
        text, mime = value_text(value)
        return self._set({semconv.OUTPUT_VALUE: text, semconv.OUTPUT_MIME_TYPE: mime})

    def set_messages(
        self,
        input: Iterable[Mapping[str, Any]] | None = None,
        output: Iterable[Mapping[str, Any]] | None = None,
    ) -> SpanHandle:
        """LLM messages as ``llm.input_messages.N.message.*`` / ``llm.output_messages.N...``.

        Example: ``s.set_messages(input=[{"role": "user", "content": "hi"}],
        output=[{"role": "assistant", "tool_calls": [{"id": "c1", "name": "f",
        "arguments": {"x": 1}}]}])``.
        """

        def build() -> dict[str, Any]:
            attrs: dict[str, Any] = {}
            if input is not None:
                attrs.update(message_attributes(semconv.LLM_INPUT_MESSAGES, input))
            if output is not None:
                attrs.update(message_attributes(semconv.LLM_OUTPUT_MESSAGES, output))
            return attrs

        return self._guarded(build)

    def set_documents(self, documents: Iterable[Any]) -> SpanHandle:
        """Retrieved documents (dicts with content, id, score, metadata) as
        ``retrieval.documents.N.document.*``."""
        return self._guarded(_document_attributes, documents)

    def set_tool(
        self,
        name: str,
        arguments: Any = None,
        result: Any = None,
        description: str | None = None,
    ) -> SpanHandle:
        """A tool call: ``tool.name``, ``tool.description``, the arguments as
        ``tool.parameters`` and ``input.value``, the result as ``output.value``."""
        attrs: dict[str, Any] = {semconv.TOOL_NAME: str(name)}
        if description is not None:
            attrs[semconv.TOOL_DESCRIPTION] = str(description)
        if arguments is not None:
            text, mime = value_text(arguments)
            attrs[semconv.TOOL_PARAMETERS] = text
            attrs[semconv.INPUT_VALUE] = text
            attrs[semconv.INPUT_MIME_TYPE] = mime
        if result is not None:
            text, mime = value_text(result)
            attrs[semconv.OUTPUT_VALUE] = text
            attrs[semconv.OUTPUT_MIME_TYPE] = mime
        return self._set(attrs)

    def set_model(self, name: str, provider: str | None = None) -> SpanHandle:
        """``llm.model_name`` and, if given, ``llm.provider``."""
        attrs = {semconv.LLM_MODEL_NAME: str(name)}
        if provider is not None:
            attrs[semconv.LLM_PROVIDER] = str(provider)
        return self._set(attrs)

    def set_usage(self, prompt: int | None = None, completion: int | None = None) -> SpanHandle:
        """``llm.token_count.prompt|completion`` and their ``total``."""
        attrs: dict[str, Any] = {}
        try:
            if prompt is not None:
                attrs[semconv.LLM_TOKEN_COUNT_PROMPT] = int(prompt)
            if completion is not None:
                attrs[semconv.LLM_TOKEN_COUNT_COMPLETION] = int(completion)
        except (TypeError, ValueError):
            _log.warning("tracejudge: token counts must be integers, got %r", (prompt, completion))
            return self
        if attrs:
            attrs[semconv.LLM_TOKEN_COUNT_TOTAL] = sum(attrs.values())
        return self._set(attrs)

    def set_attribute(self, key: str, value: Any) -> SpanHandle:
        """Any attribute; dicts and mixed lists are stored as JSON text."""
        return self._guarded(lambda: {str(key): otel_value(value)})

    def set_status_error(self, message: str) -> SpanHandle:
        """Mark the span failed without raising (e.g. a guardrail rejected the answer)."""
        try:
            self.otel_span.set_status(Status(StatusCode.ERROR, str(message)))
        except Exception:
            _log.warning("tracejudge: could not set span status", exc_info=True)
        return self


class span:
    """Context manager (sync and async) that starts a span and makes it current.

    A class named like a function because it is used like one: ``with span("step") as s``.

    Example::

        with span("retrieve", kind="RETRIEVER") as s:
            docs = search(query)
            s.set_input(query).set_documents(docs)

        async with span("plan", kind="AGENT") as s: ...

    An exception leaving the block sets ERROR status, adds an ``exception`` event and
    propagates unchanged.

    Raises:
        ConfigurationError: ``kind`` is not an OpenInference span kind.
    """

    __slots__ = ("_handle", "_kind", "_name", "_token")

    def __init__(self, name: str, kind: str = "CHAIN") -> None:
        self._name = name
        self._kind = validate_kind(kind)
        self._handle: SpanHandle | None = None
        self._token: object | None = None

    def __enter__(self) -> SpanHandle:
        otel_span = current_tracer().start_span(
            self._name, attributes={semconv.OI_SPAN_KIND: self._kind}
        )
        self._token = otel_context.attach(trace.set_span_in_context(otel_span))
        self._handle = SpanHandle(otel_span)
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        handle, token = self._handle, self._token
        if handle is None:
            return
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        if exc is not None:
            record_exception(handle.otel_span, exc)
        try:
            handle.otel_span.end()
        except Exception:
            _log.debug("tracejudge: could not end a span", exc_info=True)

    async def __aenter__(self) -> SpanHandle:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
