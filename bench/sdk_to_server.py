"""An OpenTelemetry SDK app emitting 2,000 spans/s for a minute into ``tracejudge serve``
through ``register(endpoint=...)`` (the standard OTLP/HTTP protobuf exporter behind the
batch processor): how many spans arrive, and how many the SDK dropped.

    python bench/sdk_to_server.py [--rate 2000] [--seconds 60] [--workers 1]

Target: none lost (stored == emitted, dropped == 0). Figures on a shared 2-core machine
are noisy.
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

from _server import RssSampler, free_port, start_tracejudge, stop_process

from tracejudge.capture import flush, register, shutdown, stats

__all__ = ["main"]

PROJECT = "sdk-bench"


def _emit(rate: int, seconds: float) -> tuple[int, float]:
    """Emit ``rate`` spans/s (LLM spans under an agent root, in ticks of 10 ms)."""
    from tracejudge.capture import span

    tick = 0.01
    per_tick = max(1, round(rate * tick))
    emitted = 0
    start = time.perf_counter()
    next_tick = start
    while (now := time.perf_counter()) - start < seconds:
        if now < next_tick:
            time.sleep(next_tick - now)
        with span("agent.run", kind="AGENT") as root:
            root.set_input("What is the refund policy for order A-17?")
            for i in range(per_tick - 1):
                with span("llm.chat", kind="LLM") as llm:
                    llm.set_model("gpt-4o-mini", provider="openai")
                    llm.set_usage(prompt=120 + i, completion=40)
                    llm.set_output("Refunds are accepted within 30 days of delivery. " * 4)
            root.set_output("Refunds are accepted within 30 days.")
        emitted += per_tick
        next_tick += tick
    return emitted, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=2_000, help="spans per second")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tj-sdk-bench-") as tmp:
        db = Path(tmp) / "server.db"
        port = free_port()
        server = start_tracejudge(db, port, a.workers)
        rss = RssSampler(server.pid)
        rss.start()
        try:
            register(PROJECT, endpoint=f"http://127.0.0.1:{port}", set_global=False)
            emitted, took = _emit(a.rate, a.seconds)
            flushed = flush(60)
            counters = stats()
            shutdown()
        finally:
            peak = rss.stop()
            stop_process(server)
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    lost = emitted - stored
    verdict = "OK" if lost == 0 else "LOST SPANS"
    print(
        f"emitted {emitted:,} spans in {took:.1f}s ({emitted / took:,.0f} spans/s, target rate "
        f"{a.rate:,}); stored {stored:,}; lost {lost:,} (target 0) [{verdict}]; "
        f"SDK queue drops {counters.dropped_queue_full}; flush ok: {flushed}; "
        f"peak server RSS {peak / 2**20:.0f} MiB"
    )
    print("note: shared 2-core machine; figures are noisy")
    return {"emitted": emitted, "stored": stored, "lost": lost, "seconds": took}


if __name__ == "__main__":
    main()
