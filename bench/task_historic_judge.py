"""A historic eval task with an LLM judge: evaluations/s against a 200 ms local judge at
concurrency 32 (ceiling: 32 / 0.2 s = 160 evaluations/s).

The judge is :class:`tracejudge.testing.OpenAIServer` in its own process, answering every
request with a valid verdict after ``--latency`` s (``bench/judge_throughput.py``'s
server). ``--spans`` LLM spans are written to a fresh SQLite file; a historic task
(``groundedness``, ``judge.concurrency`` and task ``concurrency`` 32) is created over them
and run to the end by :class:`~tracejudge.evals.tasks.TaskRunner` in this process, as
``tracejudge task run`` does. Everything is in the figure: claiming batches, filter and
sampling, resolving inputs (``output`` and ``trace.documents``), the judge over real HTTP,
verdict parsing, writing evaluations and outcomes, advancing the cursor.

A small warm-up task runs first (connection pool, imports); after it the start-up objects
are frozen out of the garbage collector, as ``bench/judge_throughput.py`` explains.

    python bench/task_historic_judge.py [--spans 1600] [--concurrency 32] \
        [--latency 0.2] [--repeat 3]

Target (issue 4): >= 90% of the ceiling (>= 144 evaluations/s with the defaults).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import machine_load
from judge_throughput import judge_server

from tracejudge.evals.tasks import TaskRunner, TaskSpec
from tracejudge.model import Span
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore

__all__ = ["main", "make_trace"]

TARGET_SHARE = 0.90
T0 = 1_700_000_000_000_000_000
DOCUMENTS = (
    '[{"document.id": "kb-shipping", '
    '"document.content": "Standard shipping takes 3 to 5 business days."}]'
)


def make_trace(n: int, project: str) -> list[Span]:
    """Trace ``n``: a RETRIEVER span with one document, then the LLM span that answers."""
    trace_id = f"{n + 1:032x}"

    def span(i: int, kind: str, **fields: object) -> Span:
        start = T0 + n * 10_000_000 + i * 1_000_000
        return Span(
            trace_id=trace_id,
            span_id=f"{2 * n + i + 1:016x}",
            parent_span_id=None,
            project=project,
            name=kind.lower(),
            kind=kind,
            status="OK",
            status_message=None,
            start_ns=start,
            end_ns=start + 500_000,
            **fields,  # type: ignore[arg-type]
        )

    return [
        span(0, "RETRIEVER", attributes={"retrieval.documents": DOCUMENTS}),
        span(1, "LLM", output="Standard shipping takes 3 to 5 business days.", input="How long?"),
    ]


def _task(name: str, project: str, base_url: str, concurrency: int) -> TaskSpec:
    return TaskSpec.from_dict(
        {
            "name": name,
            "project": project,
            "mode": "historic",
            "filter": 'kind == "LLM"',
            "concurrency": concurrency,
            "evaluators": ["groundedness"],
            "judge": {"model": "bench-judge", "base_url": base_url, "concurrency": concurrency},
        }
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spans", type=int, default=1600, help="LLM spans to score")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency", type=float, default=0.2, help="judge seconds per request")
    p.add_argument("--batch-size", type=int, default=256, help="TaskRunner batch size")
    p.add_argument("--repeat", type=int, default=3, help="runs (a new task each); median")
    a = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tj-bench-historic-") as tmp:
        store = open_store(Path(tmp) / "bench.db")
        assert isinstance(store, SQLiteStore)
        try:
            warm = [s for n in range(a.concurrency) for s in make_trace(n, "warm-up")]
            spans = [s for n in range(a.spans) for s in make_trace(10_000 + n, "bench")]
            store.write(warm)
            for i in range(0, len(spans), 5000):
                store.write(spans[i : i + 5000])
            tasks = SQLiteTaskStore(store.path)
            runner = TaskRunner(store, tasks=tasks, batch_size=a.batch_size)
            with judge_server(a.latency, in_process=False) as base_url:
                warm_task = tasks.create(_task("warm-up", "warm-up", base_url, a.concurrency))
                runner.run_until_idle(warm_task.id)
                gc.collect()
                gc.freeze()
                runs: list[tuple[float, int]] = []  # (evaluations/s, scored)
                for r in range(a.repeat):
                    task = tasks.create(_task(f"bench-{r}", "bench", base_url, a.concurrency))
                    started = time.perf_counter()
                    report = runner.run_until_idle(task.id)
                    elapsed = time.perf_counter() - started
                    status = tasks.status(task.id)
                    scored = status.counts.get("scored", 0)
                    runs.append((scored / elapsed, scored))
                    print(
                        f"run {r + 1}: {scored:,} of {a.spans:,} LLM spans scored "
                        f"({status.counts}), {report.errors} without a verdict, state "
                        f"{status.task.state}, in {elapsed:.1f} s = {scored / elapsed:.1f}/s"
                    )
            runner.stop()
        finally:
            store.close()

    rate, _ = sorted(runs)[len(runs) // 2]
    complete = all(n == a.spans for _, n in runs)
    ceiling = a.concurrency / a.latency
    share = rate / ceiling
    print(f"runs: {', '.join(f'{r:.1f}' for r, _ in runs)} evaluations/s")
    print(f"CPU cores / load: {machine_load()}")
    print(
        f"throughput (median): {rate:.1f} evaluations/s of a {ceiling:.0f}/s ceiling = {share:.1%} "
        f"(target >= {TARGET_SHARE:.0%}, >= {TARGET_SHARE * ceiling:.0f}/s) "
        f"[{'OK' if share >= TARGET_SHARE and complete else 'BELOW TARGET'}]"
    )
    return {"rate": rate, "share": share}


if __name__ == "__main__":
    main()
