"""Task definitions: the YAML/dict shape, create-time validation, versions, apply, states."""

from __future__ import annotations

import sqlite3

import pytest

from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound
from tracejudge.evals.tasks import EvaluatorSpec, JudgeSettings, TaskSpec
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore

BASE = {"name": "g", "project": "shop", "evaluators": ["json_valid"]}


def test_dict_shape_round_trips_with_iso_times() -> None:
    data = {
        "name": "groundedness-llm",
        "project": "shop",
        "filter": 'kind == "LLM" and not has_eval("groundedness")',
        "mode": "historic",
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-02T12:30:00.000001+00:00",
        "sample": 0.1,
        "max_spans": 1000,
        "evaluators": [
            "groundedness",
            {"name": "latency_budget(max_ms=2000)"},
            {
                "name": "answer_relevance",
                "map": {"output": "llm.output_messages.0.message.content"},
            },
        ],
        "judge": {"model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY", "concurrency": 32},
    }
    spec = TaskSpec.from_dict(data)
    spec.validate()
    assert spec.start_ns == 1_793_491_200_000_000_000
    assert spec.end_ns == 1_793_622_600_000_001_000
    assert spec.evaluators[1] == EvaluatorSpec("latency_budget(max_ms=2000)")
    assert spec.judge == JudgeSettings(
        model="gpt-4o-mini", api_key_env="OPENAI_API_KEY", concurrency=32
    )
    out = spec.to_dict()
    assert out["start"] == "2026-11-01T00:00:00Z" and out["end"] == "2026-11-02T12:30:00.000001Z"
    assert out["evaluators"][0] == "groundedness" and "target" not in out  # defaults left out
    assert TaskSpec.from_dict(out) == spec
    odd = TaskSpec.from_dict({**BASE, "mode": "historic", "start_ns": 7})  # not whole µs
    assert odd.to_dict()["start"] == 7 and TaskSpec.from_dict(odd.to_dict()) == odd


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({**BASE, "filter": "kind == "}, FilterSyntaxError, "position"),
        ({**BASE, "filter": "__import__('os').system('x')"}, FilterSyntaxError, "__import__"),
        ({**BASE, "filter": "nope(1)"}, FilterSyntaxError, "unknown function 'nope'"),
        ({**BASE, "evaluators": ["no_such_check"]}, ConfigurationError, "unknown name"),
        (
            {**BASE, "evaluators": [{"name": "groundedness", "map": {"ctx": "trace.documents"}}]},
            ConfigurationError,
            "evaluators[0].map: groundedness has no input(s) ctx",
        ),
        (
            {**BASE, "evaluators": [{"name": "toxicity", "map": {"output": "trace.spans[kind=X"}}]},
            ConfigurationError,
            "evaluators[0].map.output",
        ),
        ({**BASE, "evaluators": ["json_valid", "json_valid"]}, ConfigurationError, "twice"),
        ({**BASE, "sample": 1.5}, ConfigurationError, "sample"),
        ({**BASE, "max_spans": 0}, ConfigurationError, "max_spans"),
        ({**BASE, "mode": "sometimes"}, ConfigurationError, "mode"),
        ({**BASE, "start": "2026-01-01"}, ConfigurationError, "only applies to mode historic"),
        (
            {**BASE, "mode": "historic", "start": "2026-02-01", "end": "2026-01-01"},
            ConfigurationError,
            "must be before end",
        ),
        ({**BASE, "judge": {"modle": "x"}}, ConfigurationError, "judge: unknown key(s) modle"),
    ],
)
def test_bad_specs_are_rejected_at_create_and_nothing_is_stored(
    tasks: SQLiteTaskStore, data: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        tasks.create(TaskSpec.from_dict(data))
    assert message in str(info.value)
    assert tasks.list(include_deleted=True) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE, "evaluator": ["x"]}, "unknown key(s) evaluator"),
        ({"name": "g", "project": "shop"}, "evaluators is required"),
        ({**BASE, "mode": "historic", "start": "yesterday"}, "start: expected ISO-8601"),
        ({**BASE, "evaluators": [{"name": "x", "mapping": {}}]}, "unknown key(s) mapping"),
    ],
)
def test_bad_dicts_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskSpec.from_dict(data)
    assert message in str(info.value)


def test_versions_apply_states_and_lookup(tasks: SQLiteTaskStore) -> None:
    spec = TaskSpec.from_dict(BASE)
    task, result = tasks.apply(spec)
    assert (result, task.version, task.state) == ("created", 1, "active")
    assert tasks.apply(spec) == (task, "unchanged")
    with pytest.raises(ConfigurationError, match="already has a task named 'g'"):
        tasks.create(spec)
    changed = TaskSpec.from_dict({**BASE, "sample": 0.5})
    updated, result = tasks.apply(changed)
    assert (result, updated.id, updated.version, updated.spec) == ("updated", task.id, 2, changed)
    assert [v for v, _, _ in tasks.versions(task.id)] == [1, 2]
    assert tasks.get("g").id == tasks.get(task.id).id == task.id
    assert tasks.get("g", "shop").spec == changed
    with pytest.raises(NotFound):
        tasks.get("g", "other")
    with pytest.raises(ConfigurationError, match="cannot move"):
        tasks.update(task.id, TaskSpec.from_dict({**BASE, "project": "other"}))

    assert tasks.set_state(task.id, "paused").state == "paused"
    assert tasks.delete(task.id).state == "deleted"
    assert tasks.list() == [] and len(tasks.list(include_deleted=True)) == 1
    with pytest.raises(ConfigurationError, match="deleted"):
        tasks.set_state(task.id, "active")
    again, result = tasks.apply(spec)  # the name is free again
    assert result == "created" and again.id != task.id

    raw = sqlite3.connect(tasks.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="write-once"):
            raw.execute("UPDATE eval_task_versions SET spec = '{}'")
    finally:
        raw.close()


def test_python_construction_accepts_names_and_mappings() -> None:
    spec = TaskSpec(
        name="g",
        project="shop",
        evaluators=["json_valid", {"name": "toxicity", "map": {"output": "input"}}],
        judge={"model": "m", "concurrency": 4},
    )
    spec.validate()
    assert spec.evaluators == (
        EvaluatorSpec("json_valid"),
        EvaluatorSpec("toxicity", {"output": "input"}),
    )
    assert spec.judge == JudgeSettings(model="m", concurrency=4)
    assert TaskSpec(name="g", project="shop", evaluators="json_valid").evaluators == (
        EvaluatorSpec("json_valid"),
    )
    with pytest.raises(ConfigurationError, match="judge: unknown key"):
        TaskSpec(name="g", project="shop", evaluators="json_valid", judge={"url": "x"})


def test_evaluation_spans_read_what_input_paths_can_read(
    store: SQLiteStore, tasks: SQLiteTaskStore
) -> None:
    from dataclasses import replace

    from tracejudge.query.paths import compile_path

    from .conftest import make_span

    spans = [
        make_span(
            n,
            attributes={"llm.model_name": "m", "retrieval.documents": [{"document.id": "d"}]},
            events=[{"name": "exception", "time_ns": 1, "attributes": {"x": 1}}],
            resource={"service.name": "shop"},
            scope={"name": "instr", "version": "1"},
            tags=("a", "b"),
        )
        for n in range(700)  # more than one IN (...) chunk
    ]
    store.write(spans)
    stored = {s.ingest_seq: s for s in store.list_spans("shop", limit=1000)}
    seqs = sorted(stored)
    read = tasks.evaluation_spans([*seqs[::-1], 10**9])  # unknown seq: left out
    assert sorted(read) == seqs
    for seq, span in read.items():
        full = stored[seq]
        assert span == replace(full, events=[], links=[], resource={}, scope={})
        assert span.tags == ("a", "b") and span.attributes["llm.model_name"] == "m"
        for path in ("output", "input", "documents", "llm.model_name", "tags", "latency_ms"):
            assert compile_path(path)(span, None) == compile_path(path)(full, None)
    assert tasks.evaluation_spans([]) == {}
