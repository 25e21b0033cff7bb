"""CPU per span of the eval-task runner with a code evaluator (no judge, no server).

The shared workload (``../shared/bench/otlp_load.py``: 5-span agent traces, seed 42) is
stored in a fresh SQLite file; then a continuous task (default ``latency_budget`` on
``kind == "LLM"`` spans, as ``bench/task_continuous.py`` runs it) is created and run to
the end by :class:`~tracejudge.evals.tasks.TaskRunner` in this thread, ``--rounds`` times
with a fresh task each time. CPU time (``time.process_time``) is steadier than wall-clock
on a shared machine, so the figure is CPU microseconds per span considered and per
admitted (evaluated) span, best of the rounds.

    python bench/task_runner_cpu.py [--traces 4000] [--batch-size 1024] [--filter EXPR]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import DEFAULT_SHARED, machine_load
from server_ingest import build_workload

from tracejudge.evals.tasks import TaskRunner, TaskSpec
from tracejudge.ingest.otlp import decode_protobuf
from tracejudge.ingest.pipeline import normalize_spans
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore

__all__ = ["main"]

PROJECT = "bench-agent"


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--evaluator", default="latency_budget(max_ms=2000)")
    p.add_argument("--filter", default='kind == "LLM"', help="'' scores every span")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    a = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tj-bench-task-cpu-") as tmp:
        store = open_store(Path(tmp) / "bench.db")
        assert isinstance(store, SQLiteStore)
        try:
            for body in build_workload(a.shared, a.traces, 500):
                spans, _ = normalize_spans(decode_protobuf(body))
                store.write(spans)
            tasks = SQLiteTaskStore(store.path)
            runner = TaskRunner(store, tasks=tasks, batch_size=a.batch_size)
            gc.collect()
            gc.freeze()
            best: tuple[float, float, int, int] | None = None
            for r in range(a.rounds):
                spec = {"name": f"cpu-{r}", "project": PROJECT, "mode": "continuous"}
                spec["evaluators"] = [a.evaluator]  # type: ignore[assignment]
                if a.filter:
                    spec["filter"] = a.filter
                task = tasks.create(TaskSpec.from_dict(spec))
                cpu0, wall0 = time.process_time(), time.perf_counter()
                report = runner.run_until_idle(task.id)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                scored = tasks.status(task.id).counts.get("scored", 0)
                print(
                    f"round {r + 1}: {report.considered:,} spans considered, {scored:,} "
                    f"scored, CPU {cpu:.2f} s, wall {wall:.2f} s"
                )
                if best is None or cpu < best[0]:
                    best = (cpu, wall, report.considered, scored)
                tasks.set_state(task.id, "paused")
            runner.stop()
        finally:
            store.close()
    assert best is not None
    cpu, wall, considered, scored = best
    per_span = cpu / considered * 1e6
    per_admitted = cpu / max(scored, 1) * 1e6
    print(f"CPU cores / load: {machine_load()}")
    print(
        f"runner CPU (best of {a.rounds}, batch {a.batch_size}): {per_span:.1f} us per span "
        f"considered, {per_admitted:.1f} us per scored span ({considered:,} considered, "
        f"{scored:,} scored, {considered / wall:,.0f} spans/s wall)"
    )
    return {"us_per_span": per_span, "us_per_scored": per_admitted}


if __name__ == "__main__":
    main()
