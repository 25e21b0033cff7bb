"""LLM-judge throughput against a local judge server with a fixed latency per request.

A :class:`tracejudge.testing.OpenAIServer` on 127.0.0.1 answers every request with a valid
JSON verdict after ``--latency`` seconds (200 ms by default). It runs in its own process,
as a judge server would (``--in-process`` shares this process and its GIL instead).
``--evaluations`` groundedness evaluations run through ``LLMJudgeEvaluator.aevaluate``
with ``Judge(concurrency=32)``, so the ceiling is ``concurrency / latency`` = 160
evaluations/s; the figure is the share of that ceiling reached, everything included:
template rendering, the openai SDK over real HTTP, verdict parsing, and an EVALUATOR span
per call (a capture is registered with a discarding exporter; ``--no-trace`` leaves it out).

After warm-up the start-up objects are frozen out of the garbage collector (``gc.freeze()``,
as a long-running judge worker would do after start-up; ``--no-gc-freeze`` skips it): with
~140k objects from the imports, one full collection otherwise stalls every in-flight call
for ~0.1 s. The collector's pauses during the runs are printed either way.

Before the run it checks that the server really serves ``concurrency`` delayed requests in
parallel (a ThreadingHTTPServer should), since otherwise the benchmark measures the server.
The machine's load is printed too: other work on the 2 cores slows the client down.

Run: ``python bench/judge_throughput.py [--evaluations 800] [--concurrency 32]
[--latency 0.2] [--repeat 3] [--in-process] [--no-trace] [--no-gc-freeze]``.
Target: median run >= 90% of the ceiling (>= 144 evaluations/s with the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from _shared import machine_load

from tracejudge import capture
from tracejudge.evals.base import EvalResult
from tracejudge.evals.judge import Judge, template_evaluator
from tracejudge.testing import CountingSpanExporter, OpenAIServer

TARGET_SHARE = 0.90
VERDICT = json.dumps({"reasoning": "Every claim is in the context.", "label": "pass", "score": 1})
INPUTS = {
    "output": "Standard shipping takes 3 to 5 business days.",
    "context": [
        {"id": "kb-shipping", "content": "Standard shipping takes 3 to 5 business days."},
        {"id": "kb-returns", "content": "Unused items can be returned within 60 days."},
    ],
}


def _verdict(request: dict[str, Any]) -> str:
    return VERDICT


def _serve(latency_s: float, conn: Connection) -> None:
    """Child process: serve until the parent says stop (or goes away)."""
    with OpenAIServer(_verdict, latency_s=latency_s) as server:
        conn.send(server.base_url)
        with contextlib.suppress(EOFError):
            conn.recv()


@contextlib.contextmanager
def judge_server(latency_s: float, in_process: bool) -> Iterator[str]:
    """Base URL of a judge server, in this process or a child process."""
    if in_process:
        with OpenAIServer(_verdict, latency_s=latency_s) as server:
            yield server.base_url
        return
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(latency_s, child), daemon=True)
    process.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("the judge server process did not start within 30 s")
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


class GCPauses:
    """gc callback: how often and how long the collector stopped the world."""

    def __init__(self) -> None:
        self.count = 0
        self.total_s = 0.0
        self.longest_s = 0.0
        self._started = 0.0

    def record(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self.count += 1
        self.total_s += pause
        self.longest_s = max(self.longest_s, pause)


async def _run(evaluator: Any, n: int) -> tuple[list[EvalResult], float]:
    started = time.perf_counter()
    results = await asyncio.gather(*(evaluator.aevaluate(INPUTS) for _ in range(n)))
    return list(results), time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per request")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is the figure")
    parser.add_argument("--no-trace", action="store_true", help="no EVALUATOR spans")
    parser.add_argument("--in-process", action="store_true", help="server in this process")
    parser.add_argument("--no-gc-freeze", action="store_true", help="leave the GC as it is")
    args = parser.parse_args(argv)

    exporter = CountingSpanExporter()
    pauses = GCPauses()
    if not args.no_trace:
        capture.register("judge-bench", span_exporter=exporter, set_global=False)
    try:
        with judge_server(args.latency, args.in_process) as base_url:
            judge = Judge(
                model="bench-judge",
                base_url=base_url,
                api_key="bench",
                concurrency=args.concurrency,
                max_retries=0,  # a failure must show up, not be retried away
            )
            evaluator = template_evaluator("groundedness", judge=judge)

            async def runs() -> tuple[float, list[tuple[list[EvalResult], float]]]:
                # Parallelism check: with the connection pool open (first wave), one wave
                # should take about one latency, not ``concurrency`` of them.
                await _run(evaluator, args.concurrency)
                _, wave = await _run(evaluator, args.concurrency)
                if not args.no_gc_freeze:
                    gc.collect()
                    gc.freeze()
                gc.callbacks.append(pauses.record)
                try:
                    timed = [await _run(evaluator, args.evaluations) for _ in range(args.repeat)]
                finally:
                    gc.callbacks.remove(pauses.record)
                return wave, timed

            wave, timed = asyncio.run(runs())
    finally:
        if not args.no_trace:
            capture.flush()
            capture.shutdown()

    ceiling = args.concurrency / args.latency
    rates = [len(results) / elapsed for results, elapsed in timed]
    errors = [r.error for results, _ in timed for r in results if r.error is not None]
    rate = statistics.median(rates)
    share = rate / ceiling
    verdict = "OK" if share >= TARGET_SHARE and not errors else "BELOW TARGET"
    where = "this process" if args.in_process else "its own process"
    print(f"judge server            : OpenAIServer(latency_s={args.latency}) in {where}")
    print(
        f"server parallelism      : {args.concurrency} concurrent requests of "
        f"{args.latency * 1000:.0f} ms served in {wave * 1000:.0f} ms "
        f"({'parallel' if wave < 2 * args.latency else 'NOT parallel'})"
    )
    print(
        f"evaluations             : {args.repeat} x {args.evaluations:,} with aevaluate, "
        f"concurrency {args.concurrency}, {len(errors)} errors"
    )
    print(f"EVALUATOR spans         : {exporter.count:,} exported")
    print(f"CPU cores / load        : {machine_load()}")
    print(
        f"GC during the runs      : {pauses.count} collections, {pauses.total_s * 1000:.0f} ms, "
        f"longest {pauses.longest_s * 1000:.0f} ms"
        f" ({'start-up objects frozen' if not args.no_gc_freeze else 'not frozen'})"
    )
    print(f"runs                    : {', '.join(f'{r:.1f}' for r in rates)} evaluations/s")
    print(
        f"throughput (median)     : {rate:.1f} evaluations/s of a {ceiling:.0f}/s ceiling "
        f"= {share:.1%}   (target >= {TARGET_SHARE:.0%}, >= {TARGET_SHARE * ceiling:.0f}/s)"
        f"  {verdict}"
    )
    if errors:
        print(f"first error             : {errors[0]}")


if __name__ == "__main__":
    main()
