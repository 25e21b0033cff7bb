"""``capture.recent``: the bounded in-memory view of live traces used by in-line evaluation."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from tracejudge.capture import recent as recent_mod
from tracejudge.capture.recent import RecentSpans, attach, for_provider, live_trace


def _provider(**limits: int) -> tuple[TracerProvider, RecentSpans]:
    provider = TracerProvider()
    return provider, attach(provider, **limits)


def test_open_and_ended_spans_are_kept_until_the_root_ends() -> None:
    provider, recent = _provider()
    assert attach(provider) is recent and for_provider(provider) is recent
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span(
            "child", attributes={"retrieval.documents.0.document.id": "d"}
        ):
            pass
        trace_id = root.get_span_context().trace_id
        assert sorted(s.name for s in recent.spans(trace_id)) == ["child", "root"]
        record, view = live_trace(root)  # type: ignore[arg-type]
        assert record.name == "root" and record.end_ns >= record.start_ns
        assert sorted(s.name for s in view.spans) == ["child", "root"]
        assert view.root is not None and view.root.span_id == record.span_id
    assert recent.spans(trace_id) == [] and len(recent) == 0


def test_bounded_in_traces_and_spans_per_trace() -> None:
    provider, recent = _provider(max_traces=3, max_spans_per_trace=2)
    tracer = provider.get_tracer("t")
    roots = [tracer.start_span(f"root{i}") for i in range(5)]  # five live traces
    assert len(recent) == 3
    kept = {roots[i].get_span_context().trace_id for i in (2, 3, 4)}
    assert {tid for tid in kept if recent.spans(tid)} == kept
    assert recent.spans(roots[0].get_span_context().trace_id) == []
    from opentelemetry import trace

    ctx = trace.set_span_in_context(roots[4])
    for i in range(4):
        tracer.start_span(f"c{i}", context=ctx).end()
    names = [s.name for s in recent.spans(roots[4].get_span_context().trace_id)]
    assert names == ["c2", "c3", "root4"]  # the two newest ended spans, then the open root
    for r in roots:
        r.end()
    assert len(recent) == 0
    assert recent_mod.for_provider(object()) is None


def test_register_keeps_recent_spans_unless_told_not_to() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracejudge.capture import register, shutdown

    provider = register("r", span_exporter=InMemorySpanExporter(), batch=False, set_global=False)
    try:
        assert isinstance(for_provider(provider), RecentSpans)
    finally:
        shutdown()
    provider = register(
        "r", span_exporter=InMemorySpanExporter(), batch=False, set_global=False, keep_recent=False
    )
    try:
        assert for_provider(provider) is None
    finally:
        shutdown()
