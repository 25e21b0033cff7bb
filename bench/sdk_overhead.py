"""Per-call cost of ``@observe`` vs doing the same by hand with the bare OpenTelemetry SDK.

Both sides use the same ``BatchSpanProcessor`` settings and an exporter that discards, so
the figure is the capture SDK's own overhead: the bare side starts a span with
``tracer.start_as_current_span`` and sets ``openinference.span.kind``, ``input.value`` and
``output.value``; the observed side is a plain ``@observe``-decorated function (which also
records mime types and runs the context-attributes processor). Optionally (``--embedded``)
it also times ``@observe`` feeding the real embedded exporter into a temporary SQLite file.

Run: ``python bench/sdk_overhead.py [--calls 200000] [--repeat 5] [--embedded]``.
Target: observe / bare <= 1.3x.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from tracejudge import capture, semconv
from tracejudge.testing import CountingSpanExporter

TARGET_RATIO = 1.3
QUEUE = 1 << 16  # large enough that nothing is dropped between exports


def _processor(exporter: SpanExporter) -> BatchSpanProcessor:
    """Bare side's processor; ``register`` builds ours from the same OTEL_BSP_* settings."""
    return BatchSpanProcessor(exporter)


def _work(question: str) -> str:
    return question[::-1]


def bare_call(provider: TracerProvider) -> Callable[[str], str]:
    tracer = provider.get_tracer("bench.bare")

    def call(question: str) -> str:
        with tracer.start_as_current_span("answer") as span:
            span.set_attribute(semconv.OI_SPAN_KIND, "CHAIN")
            span.set_attribute(semconv.INPUT_VALUE, question)
            result = _work(question)
            span.set_attribute(semconv.OUTPUT_VALUE, result)
            return result

    return call


@capture.observe
def answer(question: str) -> str:
    return _work(question)


def time_per_call(call: Callable[[str], str], calls: int, flush: Callable[[], object]) -> float:
    """Microseconds per call, including the time to drain the export queue."""
    gc.collect()
    t0 = time.perf_counter()
    for i in range(calls):
        call("how long do refunds take? " + ("x" if i & 1 else "y"))
    flush()
    return (time.perf_counter() - t0) / calls * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--embedded", action="store_true", help="also time the SQLite exporter")
    args = parser.parse_args(argv)
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(QUEUE)
    os.environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "512"

    bare_provider = TracerProvider()
    bare_sink = CountingSpanExporter()
    bare_provider.add_span_processor(_processor(bare_sink))
    bare = bare_call(bare_provider)

    ours_sink = CountingSpanExporter()
    capture.register("bench", span_exporter=ours_sink, set_global=False)

    time_per_call(bare, 2000, lambda: bare_provider.force_flush())  # warm-up
    time_per_call(answer, 2000, lambda: capture.flush(30))
    bare_us, ours_us = [], []
    for _ in range(args.repeat):  # interleave so drift affects both alike
        bare_us.append(time_per_call(bare, args.calls, lambda: bare_provider.force_flush()))
        ours_us.append(time_per_call(answer, args.calls, lambda: capture.flush(30)))
    b, o = statistics.median(bare_us), statistics.median(ours_us)
    ratio = o / b
    verdict = "OK" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"calls per run: {args.calls:,}, runs: {args.repeat} (median shown)")
    print(f"bare OpenTelemetry SDK : {b:7.2f} us/call")
    print(f"@observe               : {o:7.2f} us/call")
    print(f"ratio                  : {ratio:7.2f}x   (target <= {TARGET_RATIO}x)  {verdict}")
    dropped = capture.stats().dropped_queue_full
    print(
        f"spans exported         : bare {bare_sink.count:,}, observe {ours_sink.count:,}"
        f" (dropped on full queue: {dropped})"
    )
    capture.shutdown()
    bare_provider.shutdown()

    if args.embedded:
        with tempfile.TemporaryDirectory() as tmp:
            capture.register("bench", db=Path(tmp) / "bench.db", set_global=False)
            n = min(args.calls, 50_000)
            us = time_per_call(answer, n, lambda: capture.flush(120))
            st = capture.stats()
            print(
                f"@observe -> embedded SQLite (incl. durable write): {us:7.2f} us/call "
                f"({st.exported_spans:,} stored, {st.dropped_queue_full} dropped)"
            )
            capture.shutdown()


if __name__ == "__main__":
    main()
