"""Benchmark: ``SQLiteStore.write`` throughput on pre-built realistic spans.

Run: ``python bench/store_write.py [--spans 200000] [--batch 512] [--synchronous FULL]``

Spans are built before the clock starts (see ``_workload.py``); the timed part is only
``store.write`` in batches into a fresh file, durable (``synchronous=FULL`` by default),
including validation, JSON serialization, content hashing and the trace summary upsert.
Target: >= 60,000 spans/s (half the budget of the 30,000 spans/s end-to-end ingest target).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import SPANS_PER_TRACE, make_traces, span_json_bytes

from tracejudge.store.sqlite import SQLiteStore

__all__ = ["main"]

TARGET_SPANS_PER_S = 60_000


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--dir", default=None, help="where to put the temporary DB file")
    args = parser.parse_args(argv)

    spans = [s for trace in make_traces(args.spans // SPANS_PER_TRACE) for s in trace]
    batches = [spans[i : i + args.batch] for i in range(0, len(spans), args.batch)]
    avg = sum(span_json_bytes(s) for s in spans[:1000]) / min(len(spans), 1000)
    print(f"workload: {len(spans):,} spans, {len(batches)} batches of {args.batch}, "
          f"~{avg:,.0f} JSON bytes/span")  # fmt: skip
    rss_before = _peak_rss_mib()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.db"
        with SQLiteStore(path, synchronous=args.synchronous) as store:
            t0, c0 = time.perf_counter(), time.process_time()
            for batch in batches:
                store.write(batch)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            # A re-sent batch (exporter retry) takes the slower duplicate path.
            t1 = time.perf_counter()
            for batch in batches[:20]:
                result = store.write(batch)
                assert result.duplicates == len(batch), result
            dup_rate = sum(len(b) for b in batches[:20]) / (time.perf_counter() - t1)
        db_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())

    rate = len(spans) / elapsed
    verdict = "OK" if rate >= TARGET_SPANS_PER_S else "BELOW TARGET"
    print(
        f"write throughput:  {rate:>10,.0f} spans/s   target >= {TARGET_SPANS_PER_S:,}  [{verdict}]"
    )
    # The machine may be shared: CPU seconds of this process show what contention hides.
    print(f"  per CPU-second:  {len(spans) / cpu:>10,.0f} spans/s   (process CPU time)")
    print(f"re-sent batches:   {dup_rate:>10,.0f} spans/s   (duplicate path, no target)")
    print(
        f"per {args.batch}-span batch: {elapsed / len(batches) * 1e3:>7.2f} ms"
        f"  (synchronous={args.synchronous})"
    )
    print(f"DB bytes/span:     {db_bytes / len(spans):>10,.0f}")
    print(f"peak RSS:          {_peak_rss_mib():>10,.0f} MiB  (of which pre-built spans "
          f"~{rss_before:,.0f} MiB before the store opened)")  # fmt: skip


if __name__ == "__main__":
    main()
