"""The in-app capture SDK: record every interaction of an LLM app as one OpenTelemetry trace.

Example::

    from tracejudge.capture import register, observe, span, using_session

    register("support-bot")                 # embedded store at $TRACEJUDGE_HOME/tracejudge.db

    @observe(kind="AGENT")
    def answer(question: str) -> str:
        with span("retrieve", kind="RETRIEVER") as s:
            s.set_input(question).set_documents(search(question))
        ...

    with using_session("s-42"):
        answer("Where is my order?")

Spans are exported on a background thread; capture never raises into or blocks the app.
"""

from __future__ import annotations

from tracejudge.capture.context import (
    ContextAttributesProcessor,
    using_attributes,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)
from tracejudge.capture.observe import observe
from tracejudge.capture.processor import CaptureSpanProcessor
from tracejudge.capture.redaction import (
    RedactingSpanExporter,
    Redactor,
    mask_emails,
    mask_pattern,
)
from tracejudge.capture.register import CaptureStats, flush, register, shutdown, stats
from tracejudge.capture.span import SpanHandle, span

__all__ = [
    "CaptureSpanProcessor",
    "CaptureStats",
    "ContextAttributesProcessor",
    "EmbeddedSpanExporter",
    "RedactingSpanExporter",
    "Redactor",
    "SpanHandle",
    "flush",
    "mask_emails",
    "mask_pattern",
    "observe",
    "register",
    "shutdown",
    "span",
    "stats",
    "using_attributes",
    "using_metadata",
    "using_session",
    "using_tags",
    "using_user",
]


def __getattr__(name: str) -> object:
    # Imported on first use: it pulls in ingest and the store, which an OTLP-only app
    # never needs.
    if name == "EmbeddedSpanExporter":
        from tracejudge.capture.exporter import EmbeddedSpanExporter

        return EmbeddedSpanExporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
