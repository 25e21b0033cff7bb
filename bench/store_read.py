"""Benchmark: ``Client`` read latency with 1,000,000 stored spans.

Run: ``python bench/store_read.py [--spans 1000000] [--db PATH] [--keep]``

Builds the store through the real write path (``SQLiteStore.write``, batches of 5,000,
``synchronous=NORMAL`` to build faster; reads do not depend on it), unless ``--db`` names
a file that already holds at least ``--spans`` spans. Then, with a fresh ``Client``:

- ``Client.trace(trace_id)`` for random trace ids          target p50 <= 10 ms
- ``Client.traces(project, limit=50)`` (first page)         target p50 <= 30 ms
- ``Client.traces(project, limit=50, before=<random>)``     target p50 <= 30 ms
- ``Client.span(span_id)`` and ``Client.spans(kind=..., after_seq=...)`` (no stated
  target; reported against the same 10 ms / 30 ms budgets)

Latencies are wall-clock on a warm OS page cache, p50 and p99 of many calls.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import SPANS_PER_TRACE, make_traces

from tracejudge.client import Client
from tracejudge.store.sqlite import SQLiteStore

__all__ = ["main"]

PROJECT = "bench"
BUILD_BATCH = 5000


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    raw = sqlite3.connect(path)
    try:
        return int(raw.execute("SELECT count(*) FROM spans").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        raw.close()


def _build(path: Path, n_spans: int) -> None:
    t0 = time.perf_counter()
    written = 0
    batch = []
    with SQLiteStore(path, synchronous="NORMAL") as store:
        for trace in make_traces(n_spans // SPANS_PER_TRACE, project=PROJECT):
            batch.extend(trace)
            if len(batch) >= BUILD_BATCH:
                written += store.write(batch).inserted
                batch = []
                if written % 100_000 < BUILD_BATCH:
                    rate = written / (time.perf_counter() - t0)
                    print(f"  built {written:,} spans ({rate:,.0f} spans/s incl. generation)")
        if batch:
            written += store.write(batch).inserted
    print(f"built {written:,} spans in {time.perf_counter() - t0:.0f} s")


@contextmanager
def bench_store(db: Path | None, n_spans: int, name: str) -> Iterator[Path]:
    """``db`` (else a file ``name`` in a temporary folder, removed afterwards) holding at
    least ``n_spans`` generated spans: built once, reused while it has enough."""
    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / name
    else:
        path = db
    try:
        if _count(path) < n_spans:
            _build(path, n_spans)
        yield path
    finally:
        if tmp is not None:
            tmp.cleanup()


def _sample(raw: sqlite3.Connection, sql: str, n: int, rng: random.Random, k: int) -> list[str]:
    """k ids picked by random rowid in 1..n."""
    return [raw.execute(sql, (rng.randint(1, n),)).fetchone()[0] for _ in range(k)]


def _percentiles(fn: Callable[[], object], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    q = statistics.quantiles(times, n=100)
    return q[49], q[98]


def _report(label: str, p50: float, p99: float, target_ms: float) -> None:
    verdict = "OK" if p50 <= target_ms else "ABOVE TARGET"
    print(
        f"{label:<40} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   "
        f"target p50 <= {target_ms:g} ms  [{verdict}]"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/build this file")
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args(argv)

    with bench_store(args.db, args.spans, "read_bench.db") as path:
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n_spans = raw.execute("SELECT count(*) FROM spans").fetchone()[0]
        n_traces = raw.execute("SELECT max(rowid) FROM traces").fetchone()[0]
        start_lo, start_hi = raw.execute(
            "SELECT min(start_ns), max(start_ns) FROM traces"
        ).fetchone()
        rng = random.Random(1)
        sample = _sample(
            raw, "SELECT trace_id FROM traces WHERE rowid = ?", n_traces, rng, args.calls
        )
        span_sample = _sample(
            raw, "SELECT span_id FROM spans WHERE ingest_seq = ?", n_spans, rng, args.calls
        )
        raw.close()
        db_bytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"store: {n_spans:,} spans, {n_traces:,} traces, "
              f"{db_bytes / n_spans:,.0f} DB bytes/span ({db_bytes / 2**30:.2f} GiB)")  # fmt: skip

        with Client(path) as client:
            ids = iter(sample)
            p50, p99 = _percentiles(lambda: client.trace(next(ids)), len(sample))
            _report("Client.trace(random trace_id)", p50, p99, 10)
            span_ids = iter(span_sample)
            p50, p99 = _percentiles(lambda: client.span(next(span_ids)), len(span_sample))
            _report("Client.span(random span_id)", p50, p99, 10)
            p50, p99 = _percentiles(
                lambda: client.spans(PROJECT, kind="LLM", after_seq=rng.randint(1, n_spans)), 200
            )
            _report("Client.spans(kind=LLM, after_seq=random)", p50, p99, 30)
            p50, p99 = _percentiles(lambda: client.traces(PROJECT, limit=50), 200)
            _report("Client.traces(project, limit=50)", p50, p99, 30)
            p50, p99 = _percentiles(
                lambda: client.traces(PROJECT, limit=50, before=rng.randint(start_lo, start_hi)),
                200,
            )
            _report("Client.traces(..., before=random)", p50, p99, 30)
            cursor: list[int | None] = [None]

            def next_page() -> None:
                page = client.traces(PROJECT, limit=50, before=cursor[0])
                cursor[0] = page[-1].start_ns if page else None

            p50, p99 = _percentiles(next_page, 200)
            _report("Client.traces paging 200 pages deep", p50, p99, 30)


if __name__ == "__main__":
    main()
