"""Benchmark: web UI server time with 1,000,000 spans stored.

Run: ``python bench/ui_pages.py [--spans 1000000] [--db PATH] [--calls 200]``

Builds the store like bench/store_read.py (same generator, real write path; reused when
``--db`` already holds ``--spans`` spans), adds one in-line evaluation per trace and one
1,000-span trace, then renders pages through the real app in-process (``TestClient``:
routing, session check, queries, Jinja rendering; no socket), signed in as a reviewer:

- traces page, first page (newest 50)                  target p50 <= 100 ms
- traces page at a random cursor (keyset pagination)   reported against 100 ms
- traces page sorted by latency / keyword search / span filter / samplers (reported)
- the 1,000-span trace page (tree + root detail)      target p50 <= 500 ms
- one span's detail in that trace (the htmx swap)      reported against 500 ms

Latencies are wall-clock on a warm OS page cache, p50 and p99 of many requests.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi.testclient import TestClient
from store_read import PROJECT, bench_store

from tracejudge.model import Evaluation, Span
from tracejudge.server.app import create_app
from tracejudge.store.sqlite import SQLiteStore

__all__ = ["main"]

BIG_TRACE = "b" * 32
BIG_SPANS = 1000
_T0 = 1_790_000_000_000_000_000  # after every generated trace: the big one is newest


def _add_evaluations(path: Path) -> None:
    """One pass/fail verdict on every root span (the traces page shows them as chips)."""
    with SQLiteStore(path, synchronous="NORMAL") as store:
        if store.query("SELECT 1 FROM evaluations LIMIT 1"):
            return
        t0 = time.perf_counter()
        rows = store.query("SELECT trace_id, root_span_id FROM traces WHERE project = ?", [PROJECT])
        batch: list[Evaluation] = []
        for i, (trace_id, root) in enumerate(rows):
            batch.append(
                Evaluation(
                    id=str(uuid.UUID(int=i + 1)),
                    trace_id=trace_id,
                    span_id=root,
                    project=PROJECT,
                    name="groundedness",
                    label="fail" if i % 7 == 0 else "pass",
                    score=0.0 if i % 7 == 0 else 1.0,
                    explanation="every claim is supported by the context",
                    evaluator="groundedness@1",
                    created_at_ns=_T0 + i,
                )
            )
            if len(batch) == 5000:
                store.write([], batch)
                batch = []
        if batch:
            store.write([], batch)
        print(f"added {len(rows):,} evaluations in {time.perf_counter() - t0:.0f} s")


def _big_trace(path: Path) -> None:
    """A 1,000-span trace: root -> 20 agent steps -> LLM/TOOL/RETRIEVER children."""
    with SQLiteStore(path, synchronous="NORMAL") as store:
        if store.trace_spans(BIG_TRACE):
            return
        spans: list[Span] = []

        def add(n: int, parent: int | None, kind: str, start_ms: float, dur_ms: float) -> None:
            attrs: dict[str, object] = {"openinference.span.kind": kind, "input.value": f"step {n}"}
            if kind == "LLM":
                attrs.update({
                    "llm.input_messages.0.message.role": "system",
                    "llm.input_messages.0.message.content": "You are a careful agent. " * 20,
                    "llm.input_messages.1.message.role": "user",
                    "llm.input_messages.1.message.content": f"What is step {n}?",
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": (
                        f"Step **{n}** is done.\n\n```python\nprint({n})\n```"
                    ),
                    "llm.token_count.prompt": 200,
                    "llm.token_count.completion": 20,
                })  # fmt: skip
            spans.append(
                Span(
                    trace_id=BIG_TRACE,
                    span_id=f"{n:016x}",
                    parent_span_id=None if parent is None else f"{parent:016x}",
                    project=PROJECT,
                    name=f"{kind.lower()}-{n}",
                    kind=kind,
                    status="OK",
                    status_message=None,
                    start_ns=_T0 + int(start_ms * 1e6),
                    end_ns=_T0 + int((start_ms + dur_ms) * 1e6),
                    attributes=attrs,
                    input=f"step {n}",
                    output=f"Step {n} is done.",
                )
            )

        add(1, None, "AGENT", 0, 60_000)
        n = 2
        per_step = (BIG_SPANS - 1) // 20
        for step in range(20):
            step_id = n
            add(step_id, 1, "CHAIN", step * 3000, 2900)
            n += 1
            for child in range(per_step - 1):
                kind = ("LLM", "TOOL", "RETRIEVER")[child % 3]
                add(n, step_id, kind, step * 3000 + child * 50, 45)
                n += 1
        while len(spans) < BIG_SPANS:
            add(n, 1, "TOOL", 59_000, 10)
            n += 1
        store.write(spans)
        print(f"added the {len(spans):,}-span trace {BIG_TRACE}")


def _percentiles(fn: Callable[[], object], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    q = statistics.quantiles(times, n=100)
    return q[49], q[98]


def _report(label: str, p50: float, p99: float, target_ms: float, stated: bool) -> None:
    verdict = ("OK" if p50 <= target_ms else "ABOVE TARGET") if stated else "no stated target"
    print(
        f"{label:<52} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms   "
        f"target p50 <= {target_ms:g} ms  [{verdict}]"
    )


def _get(client: TestClient, url: str, headers: dict[str, str] | None = None) -> str:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: {response.status_code} {response.text[:300]}")
    return response.text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/build this file")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)

    with bench_store(args.db, args.spans, "ui_bench.db") as path:
        _add_evaluations(path)
        _big_trace(path)
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n_spans = raw.execute("SELECT count(*) FROM spans").fetchone()[0]
        n_traces = raw.execute("SELECT count(*) FROM traces").fetchone()[0]
        cursors = [
            f"{start}:{rowid}"
            for start, rowid in raw.execute(
                "SELECT start_ns, trace_rowid FROM traces ORDER BY random() LIMIT 500"
            )
        ]
        raw.close()
        print(f"store: {n_spans:,} spans, {n_traces:,} traces")

        store = SQLiteStore(path)
        app = create_app(store)
        rng = random.Random(3)
        with TestClient(app) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', _get(client, "/login"))
            assert token is not None
            client.post("/login", data={"csrf_token": token.group(1), "name": "bench"})
            base = f"/projects/{PROJECT}/traces"
            first = _get(client, base)
            assert first.count("data-trace-id=") == 50, "the first page should list 50 traces"
            hx = {"HX-Request": "true"}
            big = f"/traces/{BIG_TRACE}"
            # Traces page variants without a stated target, reported against 100 ms.
            variants = {
                "random cursor": lambda: f"after={rng.choice(cursors)}",
                "sort=latency (newest 10,000)": lambda: "sort=latency",
                "sort=tokens (newest 10,000)": lambda: "sort=tokens",
                "q=refund (keyword search)": lambda: "q=refund",
                'filter kind == "TOOL"': lambda: 'filter=kind+%3D%3D+"TOOL"',
                "sample=random (newest 10,000)": lambda: "sample=random",
                "sample=failed (failed evals)": lambda: "sample=failed",
                "sample=unlabelled": lambda: "sample=unlabelled",
            }
            # (label, path maker, target ms, is it a stated target?, headers)
            cases: list[tuple[str, Callable[[], str], float, bool, dict[str, str]]] = [
                ("traces page: first page (newest 50)", lambda: base, 100, True, {}),
                *(
                    (f"traces page: {name}", lambda q=q: f"{base}?{q()}", 100, False, {})
                    for name, q in variants.items()
                ),
                (f"trace page: {BIG_SPANS:,}-span trace", lambda: big, 500, True, {}),
                (
                    f"span detail (htmx) in the {BIG_SPANS:,}-span trace",
                    lambda: f"{big}/spans/{rng.randint(2, BIG_SPANS):016x}",
                    500,
                    False,
                    hx,
                ),
            ]
            for label, path, target, stated, headers in cases:
                _get(client, path(), headers)  # warm
                p50, p99 = _percentiles(lambda p=path, h=headers: _get(client, p(), h), args.calls)
                _report(label, p50, p99, target, stated)
        store.close()


if __name__ == "__main__":
    main()
