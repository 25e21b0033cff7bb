"""An in-memory view of live traces, so in-line evaluation can read trace-scoped paths.

``evaluate(..., inputs=None)`` inside a span may need ``trace.documents`` or
``trace.tools``: spans of the same trace that already ended (exported, maybe not yet
stored) or are still open (the AGENT root). :class:`RecentSpans` is a span processor that
``register`` adds: it keeps, per trace, the spans still open and the most recent ended
ones, bounded in traces (oldest-started evicted) and in spans per trace. A trace
is forgotten as soon as its root span has ended and no span of it is open. ``on_start``
and ``on_end`` are a dict update under a lock: cheap, never blocking, never raising.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SDKSpan

from tracejudge import semconv

__all__ = ["RecentSpans", "attach", "for_provider", "live_trace"]

DEFAULT_MAX_TRACES = 256
DEFAULT_MAX_SPANS_PER_TRACE = 512
_DEFAULT_PROJECT = "default"


class RecentSpans(SpanProcessor):
    """Open and recently ended spans of live traces, bounded.

    Parameters:
        max_traces: traces kept (the oldest-started is dropped first).
        max_spans_per_trace: ended spans kept per trace (the oldest dropped first).

    Runs on every span start and end of the app, so each hook is a few dict operations:
    per trace a tuple ``(open spans by id, ended spans)``; plain dicts keep insertion order,
    which makes the oldest trace the first key.
    """

    def __init__(
        self,
        max_traces: int = DEFAULT_MAX_TRACES,
        max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE,
    ) -> None:
        self._max_traces = max_traces
        self._max_spans = max_spans_per_trace
        self._traces: dict[int, tuple[dict[int, ReadableSpan], list[ReadableSpan]]] = {}
        self._lock = threading.Lock()  # on_start/on_end run on whatever thread ends a span

    def on_start(self, span: SDKSpan, parent_context: Context | None = None) -> None:
        ctx = span.context
        if ctx is None:
            return
        traces = self._traces
        with self._lock:
            entry = traces.get(ctx.trace_id)
            if entry is not None:
                entry[0][ctx.span_id] = span
                return
            if len(traces) >= self._max_traces:
                del traces[next(iter(traces))]
            traces[ctx.trace_id] = ({ctx.span_id: span}, [])

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        if ctx is None:
            return
        with self._lock:
            entry = self._traces.get(ctx.trace_id)
            if entry is None:
                return
            open_spans, ended = entry
            open_spans.pop(ctx.span_id, None)
            if span.parent is None and not open_spans:
                del self._traces[ctx.trace_id]  # the trace is over: nothing left to evaluate in
                return
            ended.append(span)
            if len(ended) > self._max_spans:
                del ended[0]

    def spans(self, trace_id: int) -> list[ReadableSpan]:
        """Ended then open spans of a trace (empty if unknown or forgotten)."""
        with self._lock:
            entry = self._traces.get(trace_id)
            if entry is None:
                return []
            return [*entry[1], *entry[0].values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)

    def shutdown(self) -> None:
        with self._lock:
            self._traces.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_instances: weakref.WeakKeyDictionary[TracerProvider, RecentSpans] = weakref.WeakKeyDictionary()


def attach(provider: TracerProvider, **limits: int) -> RecentSpans:
    """Add a :class:`RecentSpans` to ``provider`` (once) and return it."""
    existing = _instances.get(provider)
    if existing is not None:
        return existing
    recent = RecentSpans(**limits)
    provider.add_span_processor(recent)
    _instances[provider] = recent
    return recent


def for_provider(provider: Any) -> RecentSpans | None:
    """The :class:`RecentSpans` attached to ``provider``, if any."""
    try:
        return _instances.get(provider)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


def _recent_spans(trace_id: int) -> list[ReadableSpan]:
    """Spans of ``trace_id`` known to any attached provider (the current capture's first)."""
    from tracejudge.capture._state import current

    cap = current()
    ordered = [for_provider(cap.provider)] if cap is not None else []
    ordered += list(_instances.values())
    for recent in ordered:
        if recent is not None and (found := recent.spans(trace_id)):
            return found
    return []


def live_trace(otel_span: ReadableSpan) -> tuple[Any, Any]:
    """``(model.Span, model.Trace)`` of a live SDK span and its in-memory trace.

    Spans are normalized exactly as ingest will store them; still-open spans get the
    current time as their end. The trace always contains ``otel_span`` itself.
    """
    from tracejudge.capture.convert import to_raw_span
    from tracejudge.ingest.normalize import normalize
    from tracejudge.model import Trace

    ctx = otel_span.context
    assert ctx is not None
    project = str(otel_span.resource.attributes.get(semconv.PROJECT_NAME, _DEFAULT_PROJECT))
    now = time.time_ns()
    by_id: dict[int, Any] = {}
    for readable in [*_recent_spans(ctx.trace_id), otel_span]:
        raw = to_raw_span(readable)
        if readable.end_time is None:
            raw.end_ns = now
        span_ctx = readable.context
        if span_ctx is not None:
            by_id[span_ctx.span_id] = normalize(raw, project)[0]
    record = by_id[ctx.span_id]
    return record, Trace(record.trace_id, tuple(by_id.values()))
