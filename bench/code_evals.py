"""Benchmark: code evaluators over stored spans (resolve attribute paths + evaluate).

Run: ``python bench/code_evals.py [--evaluations 100000] [--traces 2000]``

Writes ``--traces`` 5-span traces of the shared workload (``_workload.py``) into a temp
SQLite store through the real write path, reads every span back (``list_spans``) and
groups them into :class:`~tracejudge.model.Trace` objects, as an eval task would. Then it
runs ``--evaluations`` evaluations, cycling over the spans and, per span kind, a mix of
built-in code evaluators, each scored the way :func:`score_span` does it minus the write:
``resolve_inputs`` (default paths and a ``trace.input`` mapping, ``trace.documents`` and
``trace.tools`` on LLM spans) then ``evaluate``.

Target: >= 20,000 evaluations/s on the 2-core machine (single thread).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import make_traces

from tracejudge.evals import EvalResult, Evaluator, evaluator
from tracejudge.evals.code import (
    contains,
    exact_match,
    json_valid,
    latency_budget,
    length_bounds,
    refusal,
    regex_match,
    token_budget,
    tool_call_valid,
)
from tracejudge.evals.scoring import resolve_inputs
from tracejudge.model import Span, Trace
from tracejudge.store.sqlite import SQLiteStore

__all__ = ["main"]

TARGET_PER_S = 20_000
PROJECT = "bench"


@evaluator(name="context_overlap")
def _context_overlap(output: str, context: list[dict[str, Any]]) -> float:
    """Share of the output's words that appear in the retrieved documents."""
    words = set(output.split())
    seen = {w for d in context for w in str(d.get("content", "")).split()}
    return len(words & seen) / len(words) if words else 0.0


Plan = list[tuple[Evaluator, Mapping[str, str] | None]]


def _plans() -> dict[str, Plan]:
    """Evaluators (and input mappings) per span kind."""
    common: Plan = [
        (contains("refund"), None),
        (length_bounds(min=1, max=2000), None),
        (latency_budget(2000), None),
        (regex_match(r"\border\b"), None),
        (refusal(), None),
    ]
    return {
        "AGENT": [*common, (exact_match(), {"reference": "trace.input"})],
        "RETRIEVER": [(latency_budget(500), None), (json_valid(), {"output": "input"})],
        "LLM": [
            *common,
            (token_budget(300), None),
            (_context_overlap, None),
            (tool_call_valid(), None),
        ],
        "TOOL": [*common, (json_valid(), {"output": "input"}), (tool_call_valid(), None)],
    }


def _load(n_traces: int) -> list[tuple[Span, Trace]]:
    """Write the workload to a temp store, read it back, pair every span with its trace."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        SQLiteStore(Path(tmp) / "bench.db", synchronous="NORMAL") as store,
    ):
        batch: list[Span] = []
        for trace in make_traces(n_traces, project=PROJECT):
            batch.extend(trace)
            if len(batch) >= 5000:
                store.write(batch)
                batch = []
        store.write(batch)
        spans: list[Span] = []
        after = None
        while page := store.list_spans(PROJECT, limit=10_000, after_seq=after):
            spans.extend(page)
            after = page[-1].ingest_seq
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    traces = {tid: Trace(tid, tuple(group)) for tid, group in by_trace.items()}
    return [(s, traces[s.trace_id]) for s in spans]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    parser.add_argument("--traces", type=int, default=2000)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    pairs = _load(args.traces)
    print(f"store: {len(pairs):,} spans written and read back in {time.perf_counter() - t0:.1f} s")
    plans = _plans()
    work = [(span, trace, ev, mapping) for span, trace in pairs for ev, mapping in plans[span.kind]]

    labels: Counter[str] = Counter()
    done = 0
    start = time.perf_counter()
    while done < args.evaluations:
        for span, trace, ev, mapping in work:
            result: EvalResult = ev.evaluate(resolve_inputs(ev, span, trace, mapping))
            labels["error" if result.error else (result.label or "score")] += 1
            done += 1
            if done == args.evaluations:
                break
    elapsed = time.perf_counter() - start
    rate = done / elapsed
    verdict = "OK" if rate >= TARGET_PER_S else "BELOW TARGET"
    print(f"evaluations: {done:,} in {elapsed:.2f} s over {len(work):,} (span, evaluator) pairs")
    print(f"outcomes: {dict(sorted(labels.items()))}")
    print(f"throughput: {rate:,.0f} evaluations/s   target >= {TARGET_PER_S:,}/s   {verdict}")
    return 0 if rate >= TARGET_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
