"""A continuous eval task with a code evaluator while ``tracejudge serve`` ingests the shared
OTLP workload: ingest throughput with vs without the task, and the task's lag.

Two runs on fresh servers (``tracejudge serve``, its task worker on in both) with the same
workload (``../shared/bench/otlp_load.py``: 5-span agent traces, 500 spans per POST, as in
``bench/server_ingest.py``):

1. baseline: no task;
2. a continuous task created before the load starts (default: ``latency_budget(max_ms=2000)``
   on ``kind == "LLM"`` spans; every span gets an outcome row, scored or filtered).

During run 2 the task's lag (age of the oldest span the task has not considered yet) is
sampled from the database file every ``--sample-every`` seconds, read-only, so measuring
does not load the server. After the load ends the time until the task has considered every
span is reported as the catch-up time.

    python bench/task_continuous.py [--traces 20000] [--concurrency 4] [--filter EXPR]
        [--worker-process]

Targets (issue 4): ingest throughput drops by less than 20% with the task running; lag
under 5 s. Figures on the shared 2-core machine are noisy (the load generator and the
server share the cores).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import DEFAULT_SHARED, free_port, load_generator, start_tracejudge, stop_process
from server_ingest import build_workload

__all__ = ["main", "run"]

TARGET_DROP = 0.20
TARGET_LAG_S = 5.0
PROJECT = "bench-agent"  # the workload's service.name


class LagSampler(threading.Thread):
    """Reads the task's cursor and the oldest unconsidered span from the file, read-only."""

    def __init__(self, db: Path, task_id: str, every_s: float) -> None:
        super().__init__(daemon=True)
        self.db, self.task_id, self.every_s = db, task_id, every_s
        self.samples: list[tuple[float, float, int]] = []  # (t, lag_s, unconsidered)
        self._stop_event = threading.Event()

    def lag(self) -> tuple[float, int]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            (cursor,) = conn.execute(
                "SELECT cursor FROM eval_tasks WHERE id = ?", (self.task_id,)
            ).fetchone()
            row = conn.execute(
                "SELECT ingested_at_ns FROM spans WHERE ingest_seq > ? ORDER BY ingest_seq LIMIT 1",
                (cursor,),
            ).fetchone()
            (last,) = conn.execute("SELECT coalesce(max(ingest_seq), 0) FROM spans").fetchone()
        finally:
            conn.close()
        lag = 0.0 if row is None else max(0.0, (time.time_ns() - row[0]) / 1e9)
        return lag, last - cursor

    def run(self) -> None:
        start = time.monotonic()
        while not self._stop_event.wait(self.every_s):
            try:
                lag, behind = self.lag()
            except sqlite3.Error:
                continue  # busy for longer than the timeout: skip this sample
            self.samples.append((time.monotonic() - start, lag, behind))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run(
    shared: Path,
    batches: list[bytes],
    spans: int,
    concurrency: int,
    task: dict[str, Any] | None,
    sample_every_s: float,
) -> dict[str, Any]:
    """One run on a fresh server: ingest ``batches`` (with ``task`` running if given)."""
    gen = load_generator(shared)
    with tempfile.TemporaryDirectory(prefix="tj-bench-task-") as tmp:
        db = Path(tmp) / "server.db"
        port = free_port()
        server = start_tracejudge(db, port)
        base = f"http://127.0.0.1:{port}"
        sampler = None
        result: dict[str, Any] = {}
        try:
            if task is not None:
                r = httpx.post(base + "/api/v1/tasks", json=task, timeout=30)
                r.raise_for_status()
                sampler = LagSampler(db, r.json()["id"], sample_every_s)
                sampler.start()
            sender = gen.Sender(base + "/v1/traces", {}, concurrency, False, 120.0, 600.0)
            seconds = sender.send(batches)
            result = {
                "seconds": seconds,
                "spans_per_s": spans / seconds,
                "failed": len(sender.errors),
            }
            if sampler is not None:
                ingest_end = time.monotonic()
                while sampler.lag()[1] > 0 and time.monotonic() - ingest_end < 300:
                    time.sleep(0.1)
                result["catch_up_s"] = time.monotonic() - ingest_end
                sampler.stop()
                lags = [lag for _, lag, _ in sampler.samples]
                result["max_lag_s"] = max(lags, default=0.0)
                result["p50_lag_s"] = sorted(lags)[len(lags) // 2] if lags else 0.0
                status = httpx.get(f"{base}/api/v1/tasks/{sampler.task_id}", timeout=60).json()
                result["counts"] = status["counts"]
                result["considered"] = status["considered"]
        finally:
            if sampler is not None and sampler.is_alive():
                sampler.stop()
            stop_process(server)
        with sqlite3.connect(db) as conn:
            result["stored"] = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", type=int, default=20_000)
    p.add_argument("--batch-spans", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--evaluator", default="latency_budget(max_ms=2000)")
    p.add_argument("--filter", default='kind == "LLM"', help="'' scores every span")
    p.add_argument("--sample-every", type=float, default=0.25, help="lag sampling period, s")
    p.add_argument(
        "--worker-process",
        action="store_true",
        help="run the server's task worker as a child process (TRACEJUDGE_TASK_WORKER_PROCESS)",
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    a = p.parse_args(argv)
    if a.worker_process:  # inherited by the server processes started below
        os.environ["TRACEJUDGE_TASK_WORKER_PROCESS"] = "true"

    batches = build_workload(a.shared, a.traces, a.batch_spans)
    spans = a.traces * 5
    where = "a child process" if a.worker_process else "a thread of the server"
    print(
        f"workload: {len(batches)} POSTs, {spans:,} spans; task: {a.evaluator} on {a.filter!r}, "
        f"worker in {where}"
    )
    task = {"name": "bench-continuous", "project": PROJECT, "evaluators": [a.evaluator]}
    if a.filter:
        task["filter"] = a.filter

    base = run(a.shared, batches, spans, a.concurrency, None, a.sample_every)
    print(f"without task: {base['spans_per_s']:,.0f} spans/s (stored {base['stored']:,})")
    with_task = run(a.shared, batches, spans, a.concurrency, task, a.sample_every)
    drop = 1 - with_task["spans_per_s"] / base["spans_per_s"]
    print(
        f"with task:    {with_task['spans_per_s']:,.0f} spans/s (stored {with_task['stored']:,}); "
        f"drop {drop:.1%} (target < {TARGET_DROP:.0%}) "
        f"[{'OK' if drop < TARGET_DROP else 'MISSED'}]"
    )
    print(
        f"task lag during ingest: max {with_task['max_lag_s']:.2f} s, "
        f"p50 {with_task['p50_lag_s']:.2f} s (target < {TARGET_LAG_S:.0f} s) "
        f"[{'OK' if with_task['max_lag_s'] < TARGET_LAG_S else 'MISSED'}]; "
        f"caught up {with_task['catch_up_s']:.2f} s after the load ended"
    )
    print(f"task outcomes: {with_task['counts']} ({with_task['considered']:,} spans considered)")
    print("note: shared 2-core machine, load generator on the same cores; figures are noisy")
    return {"without": base, "with": with_task, "drop": drop}


if __name__ == "__main__":
    main()
