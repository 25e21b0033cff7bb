"""Embedded ingest throughput: OTLP protobuf -> decode -> normalize -> SQLite (durable).

Builds the shared workload with ``otlp_load.py`` (5-span OpenInference agent traces, 500
spans per request) before timing, then ingests every request into a fresh SQLite file,
one ``store.write`` (one committed transaction) per request, and checks the spans are
queryable afterwards. Prints spans/s beside the target, the time split, and peak RSS.

    python bench/embedded_ingest.py [--traces 20000] [--shared ../shared/bench]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from tracejudge.ingest.otlp import decode_protobuf
from tracejudge.ingest.pipeline import normalize_spans
from tracejudge.store import open_store

__all__ = ["main"]

TARGET_END_TO_END = 30_000  # spans/s, decode + normalize + durable write
TARGET_DECODE_NORMALIZE = 60_000  # spans/s


def _load_generator(shared: Path) -> ModuleType:
    path = shared / "otlp_load.py"
    spec = importlib.util.spec_from_file_location("otlp_load", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _default_shared() -> Path:
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared" / "bench", Path("/work/shared/bench")):
        if (candidate / "otlp_load.py").exists():
            return candidate
    return repo.parent / "shared" / "bench"


def _verdict(value: float, target: float) -> str:
    return (
        f"{value:>10,.0f} spans/s  (target >= {target:,.0f}: {'OK' if value >= target else 'MISS'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--batch-spans", type=int, default=500)
    parser.add_argument("--shared", type=Path, default=_default_shared())
    parser.add_argument("--db", type=Path, help="SQLite file (default: a fresh temp file)")
    args = parser.parse_args(argv)

    gen = _load_generator(args.shared)
    base_ns = gen.parse_time_ns(gen.DEFAULT_BASE_TIME)
    batches = gen.build_batches(
        args.traces, args.batch_spans, 42, base_ns, {"service.name": "bench-agent"}, None
    )
    n_spans = args.traces * gen.SPANS_PER_TRACE
    print(
        f"workload: {n_spans:,} spans in {len(batches)} requests, "
        f"{sum(map(len, batches)) / 1e6:.1f} MB protobuf"
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
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"decode + normalize:            {_verdict(n_spans / pure, TARGET_DECODE_NORMALIZE)}")
    print(f"decode + normalize + write:    {_verdict(n_spans / total, TARGET_END_TO_END)}")
    print(
        f"time split: decode {decode_s:.2f}s ({100 * decode_s / total:.0f}%), "
        f"normalize {normalize_s:.2f}s ({100 * normalize_s / total:.0f}%), "
        f"write {write_s:.2f}s ({100 * write_s / total:.0f}%), total {total:.2f}s"
    )
    print(
        f"stored and queryable: {stored:,} spans ({inserted:,} inserted), "
        f"{len(traces)} newest traces listed"
    )
    print(f"peak RSS: {peak_mb:,.0f} MB")
    return 0 if stored == n_spans else 1


if __name__ == "__main__":
    sys.exit(main())
