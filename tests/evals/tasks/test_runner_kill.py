"""A runner process killed with SIGKILL mid-run: a fresh runner resumes from the cursor
and every (span, evaluator) ends up with exactly one evaluation."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tracejudge.evals.tasks import TaskRunner, TaskSpec
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore
from tracejudge.testing import OpenAIServer

from .conftest import make_span

_RUNNER = textwrap.dedent(
    """
    import sys
    from tracejudge.evals.tasks import TaskRunner
    from tracejudge.store.sqlite import SQLiteStore

    path, task_id = sys.argv[1:3]
    runner = TaskRunner(SQLiteStore(path), batch_size=16, lease_s=1.0)
    runner.run_until_idle(task_id)
    """
)


def _count(path: Path, task_id: str) -> tuple[int, int]:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(
            "SELECT count(*), count(DISTINCT span_id) FROM evaluations WHERE task_id = ?",
            (task_id,),
        ).fetchone()
    finally:
        raw.close()


def test_sigkilled_runner_is_resumed_without_duplicates_or_losses(
    store: SQLiteStore, tasks: SQLiteTaskStore, judge: OpenAIServer
) -> None:
    store.write([make_span(n) for n in range(120)])
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "killed",
                "project": "shop",
                "mode": "historic",
                "evaluators": ["toxicity"],
                "concurrency": 4,
                # The default judge factory builds the judge from these settings.
                "judge": {"base_url": judge.base_url, "model": "judge-model"},
            }
        )
    )
    judge.latency_s = 0.02  # 16 spans a batch, 4 at a time: ~0.1 s a batch
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, str(store.path), task.id],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 30
        while _count(store.path, task.id)[0] < 32:  # at least two batches committed
            assert proc.poll() is None, "the runner ended before it could be killed"
            assert time.monotonic() < deadline, "the runner made no progress"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at, _ = _count(store.path, task.id)
    assert killed_at < 120  # really killed mid-run
    cursor = tasks.status(task.id).cursor
    assert 0 < cursor < store.list_spans("shop", limit=200)[-1].ingest_seq

    time.sleep(1.1)  # the dead runner's lease expires
    judge.latency_s = 0.0
    report = TaskRunner(store, tasks=tasks).run_until_idle(task.id)
    assert report.done
    assert _count(store.path, task.id) == (120, 120)
    status = tasks.status(task.id)
    assert status.counts == {"scored": 120} and status.considered == 120
    assert status.task.state == "done"
