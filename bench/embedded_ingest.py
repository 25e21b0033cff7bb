"""Embedded ingest throughput: OTLP protobuf -> decode -> normalize -> SQLite (durable).

Builds the shared workload with ``otlp_load.py`` (5-span OpenInference agent traces, 500
spans per request) before timing, then measures, each into a fresh SQLite file
(synchronous=FULL) and checking the spans are queryable afterwards:

1. decode + normalize alone, on this thread;
2. serial: decode, normalize, one ``store.write`` (one commit) per request, on this thread;
3. parallel: ``ingest_requests`` -- worker processes (started before timing)
   decode/normalize/prepare, this thread only commits (requests coalesced up to 5,000
   spans per transaction), ``--rounds`` times: best and median;
4. the in-process exporter (``register()`` without endpoint): pre-built ``ReadableSpan``
   of the same spans, ``EmbeddedSpanExporter.export`` in batches of 512 (each commits),
   ``--exporter-rounds`` times: best and median.

Every timed pass starts after ``os.sync()``, so none pays for the kernel writing back
the previous pass's pages. Prints spans/s beside the targets, the serial time split, and
peak RSS. First it prints the CPU time a span costs in each stage (``time.process_time``
on this thread, best of ``--rounds`` passes over the first ``--stage-requests``
requests): unlike spans/s, these hardly move when other processes compete for the cores.

    python bench/embedded_ingest.py [--traces 20000] [--workers N] [--shared ../shared/bench]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import DEFAULT_SHARED, load_generator

from tracejudge.capture.exporter import EmbeddedSpanExporter
from tracejudge.ingest.otlp import decode_protobuf
from tracejudge.ingest.parallel import IngestPool, ingest_requests
from tracejudge.ingest.pipeline import normalize_spans
from tracejudge.ingest.raw import RawSpan
from tracejudge.store import open_store
from tracejudge.store.prepared import prepare_normalized
from tracejudge.store.sqlite import SQLiteStore

__all__ = ["main"]

TARGET_END_TO_END = 30_000  # spans/s, decode + normalize + durable write
TARGET_DECODE_NORMALIZE = 60_000  # spans/s
EXPORT_BATCH = 512  # BatchSpanProcessor's default max_export_batch_size


_SCOPES: dict[tuple[str, str], InstrumentationScope] = {}


def _verdict(value: float, target: float) -> str:
    return (
        f"{value:>10,.0f} spans/s  (target >= {target:,.0f}: {'OK' if value >= target else 'MISS'})"
    )


def _readable(raw: RawSpan, resources: dict[int, Resource]) -> ReadableSpan:
    """The SDK span an instrumented app would have produced for ``raw``: one Resource
    per provider and one InstrumentationScope per tracer, shared by their spans."""
    resource = resources.get(id(raw.resource))
    if resource is None:
        resource = resources[id(raw.resource)] = Resource(raw.resource)
    scope = _SCOPES.get((raw.scope["name"], raw.scope["version"]))
    if scope is None:
        scope = _SCOPES[raw.scope["name"], raw.scope["version"]] = InstrumentationScope(
            raw.scope["name"], raw.scope["version"]
        )
    context = SpanContext(int(raw.trace_id, 16), int(raw.span_id, 16), is_remote=False)
    parent = raw.parent_span_id
    return ReadableSpan(
        name=raw.name,
        context=context,
        parent=SpanContext(context.trace_id, int(parent, 16), False) if parent else None,
        resource=resource,
        attributes=raw.attributes,
        kind=SpanKind[raw.otel_kind],
        status=Status(StatusCode[raw.status_code], raw.status_message),
        start_time=raw.start_ns,
        end_time=raw.end_ns,
        instrumentation_scope=scope,
    )


def _timed_store(tmp: str, name: str) -> SQLiteStore:
    return SQLiteStore(Path(tmp) / f"{name}.db")


def _check(store: SQLiteStore, n_spans: int) -> int:
    return len(store.list_spans("bench-agent", limit=n_spans + 1))


def _stage_costs(batches: list[bytes], rounds: int) -> dict[str, float]:
    """CPU microseconds per span of each stage, best of ``rounds`` (see the docstring)."""
    n_spans = sum(len(decode_protobuf(body)) for body in batches)
    best: dict[str, float] = {}
    clock = time.process_time
    for _ in range(rounds):
        spent = dict.fromkeys(("decode", "normalize", "prepare", "SQL", "exporter"), 0.0)
        resources: dict[int, Resource] = {}
        readable = []
        with tempfile.TemporaryDirectory() as tmp:
            store = _timed_store(tmp, "stages")
            try:
                for body in batches:
                    t0 = clock()
                    raws = decode_protobuf(body)
                    t1 = clock()
                    spans, evaluations = normalize_spans(raws)
                    t2 = clock()
                    prepared = prepare_normalized(spans, evaluations)
                    t3 = clock()
                    store.write_prepared(prepared)
                    t4 = clock()
                    spent["decode"] += t1 - t0
                    spent["normalize"] += t2 - t1
                    spent["prepare"] += t3 - t2
                    spent["SQL"] += t4 - t3
                    readable.extend(_readable(r, resources) for r in raws)
            finally:
                store.close()
            store = _timed_store(tmp, "stages-exporter")
            exporter = EmbeddedSpanExporter("bench-agent", store=store)
            try:
                t0 = clock()
                for i in range(0, len(readable), EXPORT_BATCH):
                    exporter.export(readable[i : i + EXPORT_BATCH])
                spent["exporter"] = clock() - t0
            finally:
                exporter.shutdown()
                store.close()
        for stage, seconds in spent.items():
            best[stage] = min(best.get(stage, float("inf")), seconds / n_spans * 1e6)
    return best


def _settled() -> None:
    """Flush the previous pass's dirty pages first: otherwise the kernel writes them back
    during the next timed pass, on the same two cores."""
    os.sync()


def _ingest_parallel(batches: list[bytes], pool: IngestPool, n_spans: int) -> tuple[float, int]:
    """Seconds for ``ingest_requests`` to make ``batches`` durable into a fresh store, and
    how many spans are queryable afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        store = _timed_store(tmp, "parallel")
        try:
            _settled()
            t0 = time.perf_counter()
            ingest_requests(store, batches, content_type="application/x-protobuf", pool=pool)
            seconds = time.perf_counter() - t0
            return seconds, _check(store, n_spans)
        finally:
            store.close()


def _export_all(readable: list[ReadableSpan], n_spans: int) -> tuple[float, int]:
    """Seconds for ``EmbeddedSpanExporter`` to make ``readable`` durable (``force_flush``
    included) into a fresh store, and how many spans are queryable afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        store = _timed_store(tmp, "exporter")
        exporter = EmbeddedSpanExporter("bench-agent", store=store)
        try:
            _settled()
            t0 = time.perf_counter()
            for i in range(0, len(readable), EXPORT_BATCH):
                exporter.export(readable[i : i + EXPORT_BATCH])
            exporter.force_flush()
            seconds = time.perf_counter() - t0
            return seconds, _check(store, n_spans)
        finally:
            exporter.shutdown()
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--batch-spans", type=int, default=500)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--db", type=Path, help="SQLite file (default: a fresh temp file)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--rounds", type=int, default=3, help="passes for the CPU figures")
    parser.add_argument("--stage-requests", type=int, default=20, help="requests for them")
    parser.add_argument(
        "--exporter-rounds", type=int, default=3, help="exporter runs (best, median)"
    )
    args = parser.parse_args(argv)

    gen = load_generator(args.shared)
    base_ns = gen.parse_time_ns(gen.DEFAULT_BASE_TIME)
    batches = gen.build_batches(
        args.traces, args.batch_spans, 42, base_ns, {"service.name": "bench-agent"}, None
    )
    n_spans = args.traces * gen.SPANS_PER_TRACE
    print(
        f"workload: {n_spans:,} spans in {len(batches)} requests, "
        f"{sum(map(len, batches)) / 1e6:.1f} MB protobuf"
    )

    costs = _stage_costs(batches[: args.stage_requests], args.rounds)
    pipeline = sum(costs[stage] for stage in ("decode", "normalize", "prepare", "SQL"))
    print(
        "CPU per span: "
        + ", ".join(f"{stage} {us:.1f} us" for stage, us in costs.items() if stage != "exporter")
        + f" (sum {pipeline:.1f} us); exporter.export {costs['exporter']:.1f} us"
    )

    # Pass 1: decode + normalize only.
    t0 = time.perf_counter()
    for body in batches:
        normalize_spans(decode_protobuf(body))
    pure = time.perf_counter() - t0

    # Pass 2: end to end into a fresh durable store.
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        store = open_store(db)
        decode_s = normalize_s = write_s = 0.0
        inserted = 0
        _settled()
        try:
            for body in batches:
                a = time.perf_counter()
                raws = decode_protobuf(body)
                b = time.perf_counter()
                spans, evaluations = normalize_spans(raws)
                c = time.perf_counter()
                inserted += store.write(spans, evaluations).inserted
                decode_s += b - a
                normalize_s += c - b
                write_s += time.perf_counter() - c
            stored = len(store.list_spans("bench-agent", limit=n_spans + 1))
            traces = store.list_traces("bench-agent", limit=5)
        finally:
            store.close()
    total = decode_s + normalize_s + write_s

    # Pass 3: parallel (warm workers), each round into a fresh durable store.
    parallel_runs: list[float] = []
    stored_parallel = n_spans
    with IngestPool(args.workers) as pool:
        pool.start()
        for _ in range(args.rounds):
            seconds, stored_now = _ingest_parallel(batches, pool, n_spans)
            parallel_runs.append(n_spans / seconds)
            stored_parallel = min(stored_parallel, stored_now)
    parallel_runs.sort()

    # Pass 4: the in-process exporter, pre-built ReadableSpans in batches of 512, a few
    # times (the figure moves with the machine's load more than the others).
    resources: dict[int, Resource] = {}
    readable = [_readable(r, resources) for body in batches for r in decode_protobuf(body)]
    exporter_runs: list[float] = []
    stored_exported = n_spans
    for _ in range(args.exporter_rounds):
        seconds, stored_now = _export_all(readable, n_spans)
        exporter_runs.append(n_spans / seconds)
        stored_exported = min(stored_exported, stored_now)
    exporter_runs.sort()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"decode + normalize:            {_verdict(n_spans / pure, TARGET_DECODE_NORMALIZE)}")
    print(f"serial, commit per request:    {_verdict(n_spans / total, TARGET_END_TO_END)}")
    print(
        f"  time split: decode {decode_s:.2f}s ({100 * decode_s / total:.0f}%), "
        f"normalize {normalize_s:.2f}s ({100 * normalize_s / total:.0f}%), "
        f"write {write_s:.2f}s ({100 * write_s / total:.0f}%), total {total:.2f}s"
    )
    print(
        f"parallel, {pool.workers} workers:           "
        f"{_verdict(parallel_runs[-1], TARGET_END_TO_END)} best, "
        f"median {parallel_runs[len(parallel_runs) // 2]:,.0f} of {len(parallel_runs)}"
    )
    print(
        f"exporter.export, {EXPORT_BATCH}/batch:     "
        f"{_verdict(exporter_runs[-1], TARGET_END_TO_END)} best, "
        f"median {exporter_runs[len(exporter_runs) // 2]:,.0f} of {len(exporter_runs)}"
    )
    print(
        f"stored and queryable: serial {stored:,} ({inserted:,} inserted, "
        f"{len(traces)} newest traces listed), parallel {stored_parallel:,}, "
        f"exporter {stored_exported:,}"
    )
    print(f"peak RSS: {peak_mb:,.0f} MB")
    stored = min(stored, stored_parallel, stored_exported)
    return 0 if stored == n_spans else 1


if __name__ == "__main__":
    sys.exit(main())
