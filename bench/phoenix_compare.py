"""Side by side, same run, same machine: tracejudge vs Arize Phoenix on the shared workload.

Both receive the same deterministic OTLP/HTTP protobuf requests (``otlp_load.py``, seed 42)
from the same generator. tracejudge gets the full workload (every 200 is a commit, the
stored count is checked); Phoenix, which acknowledges before persisting and is ~2 orders
of magnitude slower, gets the first ``--phoenix-traces`` traces and its rate is measured
end to end: until every span is in its database (polled with SQL).

    python bench/phoenix_compare.py [--traces 20000] [--phoenix-traces 1000]
        [--phoenix /work/phoenix-venv/bin/phoenix] [--shared ../shared/bench]

Phoenix must be installed in its own virtualenv (``pip install arize-phoenix``).
Figures on a shared 2-core machine are noisy.
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
    start_process,
    stop_process,
)
from server_ingest import build_workload, run_ingest

__all__ = ["main", "run_phoenix"]

TARGET_RATIO = 100


def _phoenix_span_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0])
    except sqlite3.Error:
        return 0


def run_phoenix(
    phoenix: str, shared: Path, batches: list[bytes], spans: int, timeout_s: float
) -> dict[str, Any]:
    """Send to a fresh ``phoenix serve``; time until all spans are in its SQLite file."""
    gen = load_generator(shared)
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as tmp:
        port, grpc = free_port(), free_port()
        env = {
            "PHOENIX_WORKING_DIR": tmp,
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc),
        }
        server = start_process([phoenix, "serve"], f"http://127.0.0.1:{port}/healthz", env)
        rss = RssSampler(server.pid)
        rss.start()
        db = Path(tmp) / "phoenix.db"
        try:
            sender = gen.Sender(f"http://127.0.0.1:{port}/v1/traces", {}, 4, False, 120.0, 600.0)
            start = time.perf_counter()
            sent_s = sender.send(batches)
            stored = 0
            while time.perf_counter() - start < timeout_s:
                stored = _phoenix_span_count(db)
                if stored >= spans:
                    break
                time.sleep(0.5)
            end_to_end_s = time.perf_counter() - start
        finally:
            peak = rss.stop()
            stop_process(server)
    return {
        "spans": spans,
        "stored": stored,
        "acknowledged_s": sent_s,
        "seconds": end_to_end_s,
        "spans_per_s": stored / end_to_end_s,
        "statuses": dict(sorted(sender.status_counts.items())),
        "peak_rss_mib": peak / 2**20,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", type=int, default=20_000)
    p.add_argument("--phoenix-traces", type=int, default=1_000)
    p.add_argument("--workers", type=int, default=1, help="tracejudge server processes")
    p.add_argument("--phoenix", default="/work/phoenix-venv/bin/phoenix")
    p.add_argument("--phoenix-timeout", type=float, default=300.0)
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    a = p.parse_args(argv)

    batches = build_workload(a.shared, a.traces, 500)
    phoenix_batches = build_workload(a.shared, a.phoenix_traces, 500)  # the same first traces

    tj = run_ingest(a.shared, batches, a.traces * 5, 4, a.workers)
    print(
        f"tracejudge (workers={a.workers}): {tj['stored']:,}/{tj['spans']:,} spans durable in "
        f"{tj['seconds']:.1f}s = {tj['spans_per_s']:,.0f} spans/s end to end "
        f"(200 = committed); peak RSS {tj['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    ph = run_phoenix(a.phoenix, a.shared, phoenix_batches, a.phoenix_traces * 5, a.phoenix_timeout)
    print(
        f"Phoenix: {ph['stored']:,}/{ph['spans']:,} spans in its DB after {ph['seconds']:.1f}s "
        f"(all acknowledged after {ph['acknowledged_s']:.1f}s, statuses {ph['statuses']}) = "
        f"{ph['spans_per_s']:,.0f} spans/s end to end; peak RSS {ph['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    ratio = tj["spans_per_s"] / ph["spans_per_s"] if ph["spans_per_s"] else float("inf")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(
        f"ratio: {ratio:,.0f}x Phoenix's end-to-end ingest rate "
        f"(target >= {TARGET_RATIO}x) [{verdict}]"
    )
    print("note: shared 2-core machine, load generator on the same cores; figures are noisy")
    return {"tracejudge": tj, "phoenix": ph, "ratio": ratio}


if __name__ == "__main__":
    main()
