"""Judge calls stream across batches, and the runner works inside a running event loop.

Streaming is checked without timing: the judge holds the last call of the first batch
until a call of the *second* batch arrives, which only happens when the next batch is
queued while the first one's calls are still in flight (a runner that drains each batch
before picking the next would keep that call waiting until it gives up).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tracejudge import Client
from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks import JudgeSettings, TaskRunner, TaskSpec
from tracejudge.evals.tasks.loop import LoopThread
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore
from tracejudge.testing import OpenAIServer, Reply

from .conftest import judge_factory_for, make_span

_ANSWER = re.compile(r"answer (\d+) is")
_CONCURRENCY = 4
_BATCH = 4 * _CONCURRENCY  # a judge batch is four waves of the task's concurrency


class _HoldLastOfFirstBatch:
    """Answers every call; the call about span ``_BATCH - 1`` waits (up to 4 s) for a call
    about a span of a later batch."""

    def __init__(self) -> None:
        self.later_batch_seen = threading.Event()
        self.released_by_later_batch: bool | None = None
        self.spans: Counter[int] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        match = _ANSWER.search(request["messages"][-1]["content"])
        assert match is not None
        n = int(match.group(1))
        with self._lock:
            self.spans[n] += 1
        if n >= _BATCH:
            self.later_batch_seen.set()
        elif n == _BATCH - 1:
            self.released_by_later_batch = self.later_batch_seen.wait(4.0)
        good = n % 2 == 0
        return json.dumps(
            {"reasoning": "ok", "label": "pass" if good else "fail", "score": float(good)}
        )


@pytest.fixture
def holding_judge() -> Iterator[tuple[OpenAIServer, _HoldLastOfFirstBatch]]:
    responder = _HoldLastOfFirstBatch()
    with OpenAIServer(responder, model="judge-model") as server:
        yield server, responder


def _factory(server: OpenAIServer) -> Callable[[JudgeSettings], Judge]:
    return judge_factory_for(server, timeout_s=10)


def _historic(name: str) -> TaskSpec:
    return TaskSpec.from_dict(
        {
            "name": name,
            "project": "shop",
            "mode": "historic",
            "evaluators": ["toxicity"],
            "concurrency": _CONCURRENCY,
            "judge": {"concurrency": _CONCURRENCY},
        }
    )


def test_next_batch_is_judged_while_the_previous_one_is_in_flight(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    holding_judge: tuple[OpenAIServer, _HoldLastOfFirstBatch],
) -> None:
    server, responder = holding_judge
    spans = [make_span(n) for n in range(3 * _BATCH + 5)]
    store.write(spans)
    task = tasks.create(_historic("streamed"))
    runner = TaskRunner(store, tasks=tasks, judge_factory=_factory(server))
    try:
        report = runner.run_until_idle(task.id, timeout_s=60)
    finally:
        runner.stop()

    assert responder.released_by_later_batch is True
    assert responder.spans == Counter(range(len(spans)))  # every span judged exactly once
    assert report.done and report.evaluations_written == len(spans) and report.errors == 0
    evaluations = [e for s in spans for e in store.evaluations(span_id=s.span_id)]
    assert sorted(e.span_id for e in evaluations) == sorted(s.span_id for s in spans)
    for e in evaluations:  # each verdict landed on the span it was about
        n = int(e.span_id, 16)
        assert e.label == ("pass" if n % 2 == 0 else "fail")
    status = tasks.status(task.id)
    assert status.task.state == "done" and status.counts == {"scored": len(spans)}
    assert status.cursor == max(s.ingest_seq or 0 for s in store.list_spans("shop", limit=100))


def test_background_runner_streams_a_judge_task_too(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    holding_judge: tuple[OpenAIServer, _HoldLastOfFirstBatch],
) -> None:
    server, responder = holding_judge
    spans = [make_span(n) for n in range(2 * _BATCH + 3)]
    store.write(spans)
    spec = _historic("background").to_dict()
    task = tasks.create(TaskSpec.from_dict({**spec, "mode": "continuous"}))
    runner = TaskRunner(store, tasks=tasks, judge_factory=_factory(server), poll_interval_s=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while tasks.status(task.id).counts.get("scored", 0) < len(spans):
            assert time.monotonic() < deadline, tasks.status(task.id).counts
            time.sleep(0.05)
    finally:
        runner.stop()
    assert responder.released_by_later_batch is True
    assert responder.spans == Counter(range(len(spans)))
    assert tasks.status(task.id).counts == {"scored": len(spans)}


def test_run_and_run_once_work_inside_a_running_event_loop(
    db_path: Path, judge: OpenAIServer, judge_factory: Callable[[JudgeSettings], Judge]
) -> None:
    """As in Jupyter or under Playwright's sync API: the caller's thread runs a loop."""
    with Client(db_path) as client:
        client.store.write([make_span(n) for n in range(6)])
        handle = client.create_task(
            name="judged", project="shop", mode="historic", evaluators=["toxicity"]
        )
        other = client.create_task(
            name="judged-once", project="shop", mode="historic", evaluators=["toxicity"]
        )
        runner = TaskRunner(client.store, judge_factory=judge_factory)  # type: ignore[arg-type]

        async def notebook_cell() -> tuple[Any, Any]:
            asyncio.get_running_loop()  # really inside a running loop
            return handle.run(judge_factory=judge_factory), runner.run_once(other.id)

        try:
            report, once = asyncio.run(notebook_cell())
        finally:
            runner.stop()

        assert report.done and report.evaluations_written == 6 and report.errors == 0
        assert handle.status().counts == {"scored": 6}
        assert once.evaluations_written == 6 and once.errors == 0
        assert client.task(other.id).status().counts == {"scored": 6}
        assert len(judge.requests) == 12


def test_loop_thread_runs_coroutines_from_any_thread_and_restarts_after_close() -> None:
    loops = LoopThread()

    async def where() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    async def inside() -> int:
        return loops.run(where())  # a caller whose own thread runs a loop

    first = loops.run(where())
    assert first != threading.get_ident()
    assert asyncio.run(inside()) == first
    old = loops.loop
    loops.close()
    assert old.is_closed()
    assert loops.loop is not old and loops.run(where()) > 0  # a fresh loop
    with pytest.raises(ValueError, match="boom"):
        loops.run(_raise())
    loops.close()


async def _raise() -> None:
    raise ValueError("boom")
