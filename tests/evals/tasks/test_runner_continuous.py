"""Continuous tasks in the background runner, judge outages and restart safety."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks import JudgeSettings, TaskRunner, TaskSpec
from tracejudge.model import Evaluation
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import OutcomeRow, SQLiteTaskStore
from tracejudge.testing import OpenAIServer

from .conftest import make_span


def _task_evaluations(path: Path, task_id: str) -> list[tuple[str, str, str | None]]:
    """(span_id, name, label) of every evaluation the task wrote, from the raw file."""
    raw = sqlite3.connect(path)
    try:
        return raw.execute(
            "SELECT span_id, name, label FROM evaluations WHERE task_id = ? ORDER BY seq",
            (task_id,),
        ).fetchall()
    finally:
        raw.close()


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``predicate()`` held; fails the test after ``timeout_s``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.02)
    return time.monotonic() - start


def test_continuous_task_scores_new_spans_within_seconds(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "live",
                "project": "shop",
                "filter": 'kind == "LLM"',
                "evaluators": ["contains(value='good')"],
            }
        )
    )
    runner = TaskRunner(store, tasks=tasks, poll_interval_s=0.05)
    runner.start()
    try:
        assert runner.running
        store.write([make_span(n) for n in range(20)])
        waited = _wait_for(lambda: len(_task_evaluations(store.path, task.id)) == 20, 5)
        assert waited < 3
        store.write([make_span(n, kind="TOOL" if n % 2 else "LLM") for n in range(20, 30)])
        _wait_for(lambda: tasks.status(task.id).considered == 30, 5)
    finally:
        runner.stop()
    assert not runner.running
    rows = _task_evaluations(store.path, task.id)
    assert sorted(r[0] for r in rows) == sorted(
        make_span(n).span_id for n in range(30) if n < 20 or n % 2 == 0
    )
    assert all(label == ("pass" if int(s, 16) % 2 == 0 else "fail") for s, _, label in rows)
    status = tasks.status(task.id)
    assert status.counts == {"scored": 25, "filtered": 5}
    assert status.lag_s == 0.0 and status.total is None and status.task.state == "active"
    # stop() gave the lease back: another runner can take the task at once.
    assert tasks.acquire_lease(task.id, "someone-else", 1.0)


def test_paused_task_is_not_run_and_resumes_from_its_cursor(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    task = tasks.create(
        TaskSpec.from_dict({"name": "p", "project": "shop", "evaluators": ["json_valid"]})
    )
    store.write([make_span(n) for n in range(5)])
    runner = TaskRunner(store, tasks=tasks)
    tasks.set_state(task.id, "paused")
    assert runner.run_until_idle(task.id).considered == 0
    tasks.set_state(task.id, "active")
    assert runner.run_until_idle(task.id).considered == 5
    assert tasks.status(task.id).cursor == store.list_spans("shop")[-1].ingest_seq


def test_judge_down_then_back_retries_without_duplicates(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    judge: OpenAIServer,
    judge_factory: Callable[[JudgeSettings], Judge],
) -> None:
    store.write([make_span(n) for n in range(6)])
    task = tasks.create(
        TaskSpec.from_dict(
            {"name": "judged", "project": "shop", "evaluators": ["toxicity"], "max_attempts": 5}
        )
    )
    now = [time.time_ns()]  # the runner's clock, moved by hand: no timing flakiness
    runner = TaskRunner(
        store,
        tasks=tasks,
        judge_factory=judge_factory,
        retry_backoff_s=1.0,
        max_backoff_s=1.0,
        clock=lambda: now[0],
    )
    judge.fail_next(503, times=1000, message="judge overloaded")

    first = runner.run_once(task.id)
    assert first.considered == 6 and first.outcomes == {"retrying": 6}
    assert first.evaluations_written == 0
    retrying = tasks.outcomes(task.id, outcome="retrying")
    assert len(retrying) == 6
    assert all(o.attempts == 1 and "HTTP 503" in (o.error or "") for o in retrying)
    assert all(o.next_attempt_at_ns is not None for o in retrying)
    status = tasks.status(task.id)
    assert "judge overloaded" in (status.last_error or "")

    # Still down: the task backs off, then the retries fail again (attempt 2).
    assert runner.run_once(task.id).outcomes == {}  # backing off: nothing is even tried
    now[0] += 1_100_000_000
    assert runner.run_once(task.id).outcomes == {"retrying": 6}
    assert {o.attempts for o in tasks.outcomes(task.id)} == {2}

    judge.clear()  # the judge is back
    assert runner.run_once(task.id).outcomes == {}  # backing off again
    now[0] += 1_100_000_000
    assert runner.run_once(task.id).outcomes == {"scored": 6}
    status = tasks.status(task.id)
    assert status.counts == {"scored": 6}
    assert {o.attempts for o in tasks.outcomes(task.id)} == {3}
    rows = _task_evaluations(store.path, task.id)
    assert sorted(r[0] for r in rows) == sorted(make_span(n).span_id for n in range(6))
    assert len(judge.requests) == 6  # after recovery: one call per span, no duplicates
    assert status.judge_calls == 18  # every attempt counted (12 failed + 6 good)


def test_judge_stopped_exhausts_attempts_into_failed(
    store: SQLiteStore, tasks: SQLiteTaskStore, db_path: Path
) -> None:
    down = OpenAIServer().start()
    url = down.base_url
    down.stop()  # nothing listens on this port any more

    def factory(settings: JudgeSettings) -> Judge:
        return Judge(base_url=url, api_key="x", timeout_s=2, max_retries=0)

    store.write([make_span(n) for n in range(3)])
    task = tasks.create(
        TaskSpec.from_dict(
            {"name": "doomed", "project": "shop", "evaluators": ["toxicity"], "max_attempts": 2}
        )
    )
    runner = TaskRunner(
        store, tasks=tasks, judge_factory=factory, retry_backoff_s=0.01, max_backoff_s=0.01
    )
    assert runner.run_once(task.id).outcomes == {"retrying": 3}
    time.sleep(0.03)
    assert runner.run_once(task.id).outcomes == {"failed": 3}
    failed = tasks.outcomes(task.id)
    assert all(o.outcome == "failed" and "unreachable" in (o.error or "") for o in failed)
    assert all(o.evaluation_id is not None for o in failed)
    errors = [e for n in range(3) for e in store.evaluations(span_id=make_span(n).span_id)]
    assert len(errors) == 3 and all(e.error and e.label is None for e in errors)
    (summary,) = tasks.status(task.id).evaluators
    assert (summary.scored, summary.errors, summary.pass_rate) == (0, 3, None)
    time.sleep(0.03)
    assert runner.run_once(task.id).outcomes == {}  # failed is final


def test_fresh_runner_resumes_from_the_cursor_and_never_duplicates(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    store.write([make_span(n) for n in range(40)])
    task = tasks.create(
        TaskSpec.from_dict({"name": "r", "project": "shop", "evaluators": ["json_valid"]})
    )
    first = TaskRunner(store, tasks=tasks, batch_size=10, lease_s=0.2)
    first.run_once(task.id)
    first.run_once(task.id)
    cursor = tasks.status(task.id).cursor
    assert cursor == store.list_spans("shop")[19].ingest_seq

    # The first runner "dies" holding the lease: nobody else may work the task until it
    # expires, then a fresh runner (same file, new store objects) resumes at the cursor.
    assert tasks.acquire_lease(task.id, first.owner, 0.2)
    with SQLiteStore(store.path) as reopened:
        second = TaskRunner(reopened, batch_size=10)
        assert second.run_once(task.id).busy
        time.sleep(0.25)
        report = second.run_until_idle(task.id)
    assert report.considered == 20
    rows = _task_evaluations(store.path, task.id)
    assert len(rows) == 40 == len({r[0] for r in rows})

    # A batch computed from a stale cursor (a runner that lost the race) writes nothing.
    assert tasks.acquire_lease(task.id, "late", 5)
    span = make_span(0)
    stale = tasks.commit_batch(
        task.id,
        "late",
        expected_cursor=cursor,
        new_cursor=cursor + 10,
        considered=1,
        admitted=1,
        outcomes=[OutcomeRow(span.span_id, span.trace_id, "json_valid", 1, "scored")],
        evaluations=[
            Evaluation(
                id="x",
                trace_id=span.trace_id,
                span_id=span.span_id,
                project="shop",
                name="json_valid",
                source="task",
                task_id=task.id,
            )
        ],
    )
    assert stale is False
    assert len(_task_evaluations(store.path, task.id)) == 40
    assert tasks.status(task.id).considered == 40


def test_rate_cap_paces_evaluations(store: SQLiteStore, tasks: SQLiteTaskStore) -> None:
    store.write([make_span(n) for n in range(30)])
    task = tasks.create(
        TaskSpec.from_dict(
            {"name": "slow", "project": "shop", "evaluators": ["json_valid"], "rate_per_s": 20}
        )
    )
    start = time.monotonic()
    report = TaskRunner(store, tasks=tasks, poll_interval_s=0.05).run_until_idle(
        task.id, timeout_s=10
    )
    elapsed = time.monotonic() - start
    assert report.evaluations_written == 30
    assert 0.4 < elapsed < 3  # 20 burst + 10 more at 20/s: at least ~0.5 s


def test_rate_limited_judge_backs_the_task_off(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    judge: OpenAIServer,
    judge_factory: Callable[[JudgeSettings], Judge],
) -> None:
    store.write([make_span(n) for n in range(4)])
    task = tasks.create(
        TaskSpec.from_dict({"name": "busy-judge", "project": "shop", "evaluators": ["toxicity"]})
    )
    now = [time.time_ns()]
    runner = TaskRunner(
        store, tasks=tasks, judge_factory=judge_factory, retry_backoff_s=2.0, clock=lambda: now[0]
    )
    judge.fail_next(429, times=1, message="slow down")  # one of four calls is rate-limited
    first = runner.run_once(task.id)
    assert first.outcomes == {"scored": 3, "retrying": 1} and first.idle
    (retrying,) = tasks.outcomes(task.id, outcome="retrying")
    assert "rate limited" in (retrying.error or "")
    store.write([make_span(n) for n in range(4, 8)])
    now[0] += 1_000_000_000  # inside the 2 s back-off: new spans wait, nothing is called
    assert runner.run_once(task.id).outcomes == {}
    assert len(judge.requests) == 4
    now[0] += 3_000_000_000
    assert runner.run_once(task.id).outcomes == {"scored": 5}
    assert tasks.status(task.id).counts == {"scored": 8}


def test_a_failing_task_is_noted_and_does_not_stop_the_others(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    def no_judge(settings: JudgeSettings) -> Judge:
        raise ConfigurationError("judge model: no such deployment")

    broken = tasks.create(
        TaskSpec.from_dict({"name": "broken", "project": "shop", "evaluators": ["toxicity"]})
    )
    healthy = tasks.create(
        TaskSpec.from_dict({"name": "healthy", "project": "shop", "evaluators": ["json_valid"]})
    )
    store.write([make_span(n) for n in range(5)])
    runner = TaskRunner(store, tasks=tasks, judge_factory=no_judge, poll_interval_s=0.05)
    runner.start()
    try:
        _wait_for(lambda: tasks.status(healthy.id).considered == 5, 5)
        _wait_for(lambda: tasks.status(broken.id).last_error is not None, 5)
        assert runner.running
    finally:
        runner.stop()
    status = tasks.status(broken.id)
    assert "no such deployment" in (status.last_error or "") and status.considered == 0
