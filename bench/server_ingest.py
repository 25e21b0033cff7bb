"""Sustained OTLP/HTTP protobuf ingest into ``tracejudge serve``, durable into SQLite.

Runs the shared workload (``otlp_load.py``: 5-span OpenInference agent traces, ~1.6 kB per
span, 500 spans per POST) against a fresh server process and reports spans/s (every 200
means committed; the stored count is checked afterwards), POST latency p50/p99 and the
server's peak RSS; then again with twice the concurrent clients (overload: 503 +
Retry-After, the generator backs off and retries) to show memory stays bounded.

    python bench/server_ingest.py [--traces 20000] [--workers 1,2] [--shared ../shared/bench]

Figures on a shared 2-core machine are noisy; the load generator runs on the same cores.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import (
    DEFAULT_SHARED,
    RssSampler,
    free_port,
    load_generator,
    percentile,
    start_tracejudge,
    stop_process,
)

__all__ = ["build_workload", "main", "run_ingest"]

TARGET_SPANS_PER_S = 20_000
TARGET_PEAK_RSS_MIB = 1024  # bounded under 2x overload (Phoenix peaks at 1.1 GiB)


def build_workload(shared: Path, traces: int, batch_spans: int) -> list[bytes]:
    """The shared workload's protobuf request bodies (deterministic: seed 42)."""
    gen = load_generator(shared)
    base = gen.parse_time_ns(gen.DEFAULT_BASE_TIME)
    return list(
        gen.build_batches(traces, batch_spans, 42, base, {"service.name": "bench-agent"}, None)
    )


def run_ingest(
    shared: Path, batches: list[bytes], spans: int, concurrency: int, workers: int = 1
) -> dict[str, Any]:
    """Send ``batches`` to a fresh server; returns rate, latency, retries, RSS, stored count."""
    gen = load_generator(shared)
    with tempfile.TemporaryDirectory(prefix="tj-bench-") as tmp:
        db = Path(tmp) / "server.db"
        port = free_port()
        server = start_tracejudge(db, port, workers)
        rss = RssSampler(server.pid)
        rss.start()
        try:
            sender = gen.Sender(
                f"http://127.0.0.1:{port}/v1/traces", {}, concurrency, False, 120.0, 600.0
            )
            seconds = sender.send(batches)
        finally:
            peak = rss.stop()
            stop_process(server)
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    latencies = sender.latencies
    return {
        "spans": spans,
        "stored": stored,
        "seconds": seconds,
        "spans_per_s": spans / seconds,
        "p50_ms": 1e3 * percentile(latencies, 0.50),
        "p99_ms": 1e3 * percentile(latencies, 0.99),
        "retries": sender.retries,
        "statuses": dict(sorted(sender.status_counts.items())),
        "failed": len(sender.errors),
        "peak_rss_mib": peak / 2**20,
    }


def _report(label: str, r: dict[str, Any]) -> None:
    ok = "OK" if r["stored"] == r["spans"] and not r["failed"] else "LOST SPANS"
    print(
        f"{label}: {r['spans_per_s']:,.0f} spans/s durable (target >= {TARGET_SPANS_PER_S:,}); "
        f"POST p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; "
        f"peak server RSS {r['peak_rss_mib']:.0f} MiB; statuses {r['statuses']}, "
        f"retries {r['retries']}; stored {r['stored']:,}/{r['spans']:,} [{ok}]",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", type=int, default=20_000)
    p.add_argument("--batch-spans", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--workers", default="1,2", help="server processes to try, comma-separated")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    a = p.parse_args(argv)

    t = time.perf_counter()
    batches = build_workload(a.shared, a.traces, a.batch_spans)
    spans = a.traces * 5
    print(
        f"workload: {len(batches)} POSTs, {spans:,} spans, "
        f"{sum(map(len, batches)) / 1e6:.1f} MB (built in {time.perf_counter() - t:.1f}s)"
    )
    results: dict[str, Any] = {}
    for workers in (int(w) for w in a.workers.split(",")):
        r = run_ingest(a.shared, batches, spans, a.concurrency, workers)
        _report(f"workers={workers}, {a.concurrency} clients", r)
        results[f"workers={workers}"] = r
        over = run_ingest(a.shared, batches, spans, 2 * a.concurrency, workers)
        _report(f"workers={workers}, {2 * a.concurrency} clients (2x overload)", over)
        bounded = "OK" if over["peak_rss_mib"] <= TARGET_PEAK_RSS_MIB else "OVER"
        print(
            f"  overload peak RSS {over['peak_rss_mib']:.0f} MiB "
            f"(target <= {TARGET_PEAK_RSS_MIB} MiB) [{bounded}]"
        )
        results[f"workers={workers} overload"] = over
    print("note: shared 2-core machine, load generator on the same cores; figures are noisy")
    return results


if __name__ == "__main__":
    main()
