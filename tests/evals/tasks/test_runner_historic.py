"""Historic tasks: the exact deterministic sample, max_spans, an outcome for every span,
and a second run that writes nothing (real store, real judge server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable

from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks import JudgeSettings, TaskRunner, TaskSpec
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore
from tracejudge.testing import OpenAIServer

from .conftest import make_span


def _in_sample(span_id: str, rate: float) -> bool:
    """The documented rule, recomputed here: sha256(id)[:8] / 2**64 < rate."""
    point = int.from_bytes(hashlib.sha256(span_id.encode()).digest()[:8], "big") / 2**64
    return point < rate


def test_historic_sample_is_exact_capped_and_attached_to_the_right_spans(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    judge: OpenAIServer,
    judge_factory: Callable[[JudgeSettings], Judge],
) -> None:
    spans = [make_span(n) for n in range(1000)]
    store.write(spans)
    store.write([make_span(5000, project="other")])  # another project: never considered
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "toxicity-sample",
                "project": "shop",
                "mode": "historic",
                "sample": 0.1,
                "max_spans": 50,
                "evaluators": ["toxicity"],
                "concurrency": 16,
            }
        )
    )
    runner = TaskRunner(store, tasks=tasks, judge_factory=judge_factory, batch_size=128)

    report = runner.run_until_idle(task.id, timeout_s=60)

    sampled = [s.span_id for s in spans if _in_sample(s.span_id, 0.1)]
    assert 60 < len(sampled) < 140  # the rule really samples ~10%
    expected = sampled[:50]  # ingest order: the first 50 sampled spans are admitted
    evaluations = [
        e for s in spans for e in store.evaluations(span_id=s.span_id) if e.task_id == task.id
    ]
    assert sorted(e.span_id for e in evaluations) == sorted(expected)
    by_id = {s.span_id: s for s in spans}
    for e in evaluations:
        span = by_id[e.span_id]
        assert e.trace_id == span.trace_id and e.project == "shop"
        assert e.source == "task" and e.name == "toxicity" and e.error is None
        assert e.label == ("pass" if "good" in (span.output or "") else "fail")
    assert len(judge.requests) == 50

    outcomes = {o.span_id: o for o in tasks.outcomes(task.id, limit=5000)}
    assert set(outcomes) == {s.span_id for s in spans}  # every span has an outcome
    assert {s for s, o in outcomes.items() if o.outcome == "scored"} == set(expected)
    assert {s for s, o in outcomes.items() if o.outcome == "over_limit"} == set(sampled[50:])
    assert sum(o.outcome == "sampled_out" for o in outcomes.values()) == 1000 - len(sampled)
    assert report.evaluations_written == 50 and report.considered == 1000

    status = tasks.status(task.id)
    assert status.task.state == "done"
    assert status.counts == {
        "scored": 50,
        "over_limit": len(sampled) - 50,
        "sampled_out": 1000 - len(sampled),
    }
    assert status.total == 1000 and status.considered == 1000 and status.progress == 1.0
    (summary,) = status.evaluators
    passed = sum("good" in (by_id[s].output or "") for s in expected)
    assert (summary.scored, summary.passed, summary.failed) == (50, passed, 50 - passed)
    assert summary.pass_rate == passed / 50
    assert status.judge_calls == 50 and status.judge_prompt_tokens > 0

    # Running again, with this runner or a fresh one, writes nothing and calls no judge.
    again = runner.run_until_idle(task.id) + TaskRunner(
        store, judge_factory=judge_factory
    ).run_until_idle(task.id)
    assert again.evaluations_written == 0 and again.considered == 0
    assert len(judge.requests) == 50
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute(
            "SELECT count(*), count(DISTINCT span_id) FROM evaluations WHERE task_id = ?",
            (task.id,),
        ).fetchone() == (50, 50)
    finally:
        raw.close()


def test_filter_time_range_and_code_evaluator(store: SQLiteStore, tasks: SQLiteTaskStore) -> None:
    spans = [make_span(n, kind="LLM" if n % 3 else "TOOL") for n in range(60)]
    store.write(spans)
    start, end = spans[10].start_ns, spans[50].start_ns
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "llm-lengths",
                "project": "shop",
                "mode": "historic",
                "start": start,
                "end": end,
                "filter": 'kind == "LLM" and "good" in output',
                "evaluators": ["length_bounds(min=1, max=14)", "json_valid"],
            }
        )
    )
    report = TaskRunner(store, tasks=tasks, batch_size=7).run_until_idle(task.id)
    in_range = [s for s in spans if start <= s.start_ns < end]
    matching = {s.span_id for s in in_range if s.kind == "LLM" and "good" in (s.output or "")}
    assert report.considered == len(in_range) == 40
    outcomes = tasks.outcomes(task.id, limit=1000)
    assert {o.span_id for o in outcomes} == {s.span_id for s in in_range}
    assert {o.span_id for o in outcomes if o.outcome == "scored"} == matching
    assert {o.evaluator for o in outcomes} == {"length_bounds(min=1, max=14)", "json_valid"}
    status = tasks.status(task.id)
    lengths, json_valid = status.evaluators
    # "answer NN is good" is longer than 14 characters except for one-digit n: all fail.
    assert lengths.scored == len(matching) and lengths.pass_rate == 0.0
    assert json_valid.failed == len(matching)  # plain text is not JSON
    assert status.counts["filtered"] == 2 * (40 - len(matching))
    assert status.task.state == "done"


def test_trace_target_waits_for_an_idle_trace(store: SQLiteStore, tasks: SQLiteTaskStore) -> None:
    store.write([make_span(0, trace=7), make_span(1, trace=7, parent=0, kind="TOOL")])
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "whole-trace",
                "project": "shop",
                "target": "trace",
                "trace_idle_s": 0.3,
                "evaluators": [
                    {"name": "contains(value='good')", "map": {"output": "trace.output"}}
                ],
            }
        )
    )
    runner = TaskRunner(store, tasks=tasks)
    first = runner.run_once(task.id)
    assert first.idle and first.considered == 0  # the trace is still "arriving"
    import time

    time.sleep(0.35)
    second = runner.run_until_idle(task.id)
    assert second.considered == 1 and second.evaluations_written == 1
    (ev,) = [e for e in store.evaluations(trace_id=f"{8:032x}") if e.task_id == task.id]
    assert ev.span_id == make_span(0).span_id and ev.label == "pass"
    assert [o.span_id for o in tasks.outcomes(task.id)] == [make_span(0).span_id]


def test_missing_inputs_fail_at_once_without_calling_the_judge(
    store: SQLiteStore,
    tasks: SQLiteTaskStore,
    judge: OpenAIServer,
    judge_factory: Callable[[JudgeSettings], Judge],
) -> None:
    store.write([make_span(n) for n in range(4)])
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "no-context",
                "project": "shop",
                "mode": "historic",
                "evaluators": [
                    "qa_correctness",  # reads a "reference" these spans do not have
                    {"name": "toxicity", "map": {"output": "attributes.no.such.key"}},
                ],
            }
        )
    )
    report = TaskRunner(store, tasks=tasks, judge_factory=judge_factory).run_until_idle(task.id)
    assert report.outcomes == {"failed": 8} and report.done
    assert judge.requests == []
    by_evaluator = {o.evaluator: o for o in tasks.outcomes(task.id, span_id=make_span(0).span_id)}
    assert "reference" in (by_evaluator["qa_correctness"].error or "")
    assert (by_evaluator["toxicity"].error or "").startswith("input: path")
    assert all(o.attempts == 1 for o in by_evaluator.values())
    status = tasks.status(task.id)
    assert [(e.name, e.errors) for e in status.evaluators] == [
        ("qa_correctness", 4),
        ("toxicity", 4),
    ]
    assert status.judge_calls == 0 and status.task.state == "done"


def test_a_span_id_reused_in_another_trace_is_a_separate_unit(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    # Span ids are only unique within a trace: counters such as 0000000000000001 repeat.
    store.write([make_span(n % 3, trace=n // 3, output=f"t{n // 3}") for n in range(30)])
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "one-trace",
                "project": "shop",
                "mode": "historic",
                "filter": f'trace_id == "{make_span(0, trace=4).trace_id}"',
                "evaluators": ["contains(value='t4')"],
            }
        )
    )
    report = TaskRunner(store, tasks=tasks).run_until_idle(task.id)
    assert report.outcomes == {"scored": 3, "filtered": 27}
    evaluations = [e for e in store.evaluations(trace_id=make_span(0, trace=4).trace_id)]
    assert len(evaluations) == 3 and all(e.label == "pass" for e in evaluations)
    assert len(tasks.outcomes(task.id, span_id=make_span(1).span_id)) == 10  # one per trace


def test_trace_inputs_can_select_every_matching_span(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    """A trace task reads the outputs of ALL TOOL spans, not just the last one."""
    spans = [
        make_span(0, trace=1, kind="AGENT", output="done"),
        make_span(1, trace=1, parent=0, kind="TOOL", output="refund issued"),
        make_span(2, trace=1, parent=0, kind="TOOL", output="email sent"),
        make_span(3, trace=2, kind="AGENT", output="done"),
        make_span(4, trace=2, parent=3, kind="TOOL", output="email sent"),
    ]
    store.write(spans)
    task = tasks.create(
        TaskSpec.from_dict(
            {
                "name": "tools",
                "project": "shop",
                "mode": "historic",
                "target": "trace",
                "trace_idle_s": 0,
                "evaluators": [
                    {
                        "name": "contains(value=['refund', 'email'])",
                        "map": {"output": "trace.spans[kind=TOOL].output"},
                    }
                ],
            }
        )
    )
    report = TaskRunner(store, tasks=tasks).run_until_idle(task.id)
    assert report.outcomes == {"scored": 2} and report.done  # one per trace: the roots
    labels = {
        e.trace_id: e.label
        for s in (spans[0], spans[3])
        for e in store.evaluations(span_id=s.span_id)
    }
    assert labels == {spans[0].trace_id: "pass", spans[3].trace_id: "fail"}
    assert tasks.status(task.id).total == 2
