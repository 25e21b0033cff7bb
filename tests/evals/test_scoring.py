"""``score_span`` and ``tracejudge eval run`` against a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.query._traces import TRACE_ID, openinference_trace
from typer.testing import CliRunner

from tracejudge.capture import register, shutdown
from tracejudge.cli import app
from tracejudge.errors import ConfigurationError, PathError, SpanNotFound
from tracejudge.evals import evaluator, score_span
from tracejudge.evals.judge import TARGET_SPAN_ID, TARGET_TRACE_ID, Judge
from tracejudge.evals.scoring import resolve_inputs
from tracejudge.store import open_store
from tracejudge.store.base import Store
from tracejudge.testing import OpenAIServer
from tracejudge.testing.openai_server import ScriptedResponder

LLM1, LLM2, TOOL, ROOT = (
    "a000000000000003",
    "a000000000000005",
    "a000000000000004",
    "a000000000000001",
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "scores.db"
    store = open_store(path)
    store.write(openinference_trace().spans)
    store.close()
    return path


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = open_store(db)
    yield s
    s.close()


def test_score_span_resolves_on_the_stored_trace_and_writes_the_evaluation(store: Store) -> None:
    @evaluator(name="grounded_in_docs", version="3")
    def grounded(output: str, context: list[dict[str, str]]) -> bool:
        return any("sunny" in d["content"] for d in context) and "sunny" in output

    ev = score_span(store, LLM2, grounded, clock=lambda: 42)
    assert (ev.name, ev.label, ev.score, ev.evaluator) == ("grounded_in_docs", "pass", 1.0,
                                                            "grounded_in_docs@3")  # fmt: skip
    assert (ev.trace_id, ev.span_id, ev.project, ev.source) == (TRACE_ID, LLM2, "paths", "import")
    assert ev.created_at_ns == 42 and ev.latency_ms is not None and ev.error is None
    assert store.evaluations(span_id=LLM2) == [ev]


def test_builtin_by_name_on_llm_and_tool_spans(store: Store) -> None:
    assert score_span(store, LLM1, "tool_call_valid").label == "pass"
    assert score_span(store, TOOL, "tool_call_valid").label == "pass"  # tools from trace.tools
    ev = score_span(store, ROOT, "contains", name="mentions_reference")
    assert (ev.name, ev.label) == ("mentions_reference", "pass")  # reference: metadata.reference
    assert len(store.evaluations(trace_id=TRACE_ID)) == 3


def test_mapping_overrides_default_paths_and_must_resolve(store: Store) -> None:
    ev = score_span(store, LLM2, "exact_match", mapping={"reference": "trace.output"})
    assert ev.label == "pass"
    with pytest.raises(PathError, match=r"trace\.outptu"):
        score_span(store, LLM2, "exact_match", mapping={"reference": "trace.outptu"})
    with pytest.raises(ConfigurationError, match=r"has no input.*contxt"):
        score_span(store, LLM2, "exact_match", mapping={"contxt": "trace.documents"})
    with pytest.raises(SpanNotFound, match="ffffffffffffffff"):
        score_span(store, "ffffffffffffffff", "json_valid")
    assert len(store.evaluations(span_id=LLM2)) == 1  # the failures wrote nothing


def test_evaluator_failures_are_recorded_not_raised(store: Store) -> None:
    ev = score_span(store, LLM1, "exact_match")  # LLM1 has no output and no reference
    assert ev.error == "missing required input(s): output, reference" and ev.label is None
    assert store.evaluations(span_id=LLM1)[0].error == ev.error


def test_resolve_inputs_skips_default_paths_that_do_not_resolve() -> None:
    trace = openinference_trace()
    llm1 = trace.span(LLM1)
    ev = evaluator(inputs={"output": "output", "x": "no.such.key"})(lambda output, x=None: True)
    assert resolve_inputs(ev, llm1, trace) == {}


def test_cli_eval_run(db: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["eval", "run", "--evaluator", "tool_call_valid", "--span", LLM1,
                             "--db", str(db)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert f"tool_call_valid (tool_call_valid@1) on span {LLM1}: pass score=1" in ok.stdout
    mapped = runner.invoke(app, ["eval", "run", "-e", "exact_match", "--span", LLM2,
                                 "--map", "reference=trace.output", "--db", str(db)])  # fmt: skip
    assert mapped.exit_code == 0 and "pass" in mapped.stdout
    bad_path = runner.invoke(app, ["eval", "run", "-e", "exact_match", "--span", LLM2,
                                   "--map", "reference=trace.outptu", "--db", str(db)])  # fmt: skip
    assert bad_path.exit_code == 1
    assert "Error: path 'trace.outptu'" in bad_path.stderr and "trace.output" in bad_path.stderr
    assert "Traceback" not in bad_path.output
    bad_map = runner.invoke(app, ["eval", "run", "-e", "json_valid", "--span", LLM2,
                                  "--map", "output", "--db", str(db)])  # fmt: skip
    assert bad_map.exit_code == 1 and "expected INPUT=PATH" in bad_map.stderr
    unknown = runner.invoke(app, ["eval", "run", "-e", "nope", "--span", LLM2, "--db", str(db)])
    assert unknown.exit_code == 1 and "unknown name 'nope'" in unknown.stderr
    failed = runner.invoke(app, ["eval", "run", "-e", "exact_match", "--span", LLM1,
                                 "--db", str(db)])  # fmt: skip
    assert failed.exit_code == 1 and "evaluator failed: missing required" in failed.stderr
    store = open_store(db)
    try:
        assert [e.label for e in store.evaluations(span_id=LLM2)] == ["pass"]
        assert [e.label for e in store.evaluations(span_id=LLM1)] == ["pass", None]
    finally:
        store.close()


VERDICT = json.dumps({"reasoning": "Stated in d1.", "label": "pass", "score": 0.9})


def test_score_span_with_a_judge_template_over_real_http(store: Store) -> None:
    exporter = InMemorySpanExporter()
    register("judge-traces", span_exporter=exporter, batch=False, set_global=False)
    try:
        with OpenAIServer(ScriptedResponder([VERDICT]), model="judge-m") as server:
            judge = Judge(model="judge-m", base_url=server.base_url, api_key="k", max_retries=0)
            ev = score_span(store, LLM2, "groundedness", judge=judge)
            (request,) = server.requests
    finally:
        shutdown()
    prompt = request.json["messages"][-1]["content"]
    assert "It is sunny in Paris." in prompt  # the span's output
    assert "Paris is sunny today." in prompt and "Lyon is rainy." in prompt  # trace.documents
    assert "Retrieved after the answer." not in prompt  # that retriever ended later
    assert (ev.label, ev.score, ev.explanation) == ("pass", 0.9, "Stated in d1.")
    assert (ev.evaluator, ev.judge_model, ev.span_id) == ("groundedness@1", "judge-m", LLM2)
    assert store.evaluations(span_id=LLM2) == [ev]
    (judge_span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("judge")]
    attrs = dict(judge_span.attributes or {})
    assert attrs["openinference.span.kind"] == "EVALUATOR"
    assert attrs[TARGET_SPAN_ID] == LLM2 and attrs[TARGET_TRACE_ID] == TRACE_ID


def test_cli_eval_run_with_a_judge(db: Path) -> None:
    with OpenAIServer(ScriptedResponder([VERDICT]), model="judge-m") as server:
        result = CliRunner().invoke(
            app,
            ["eval", "run", "-e", "groundedness", "--span", LLM2, "--db", str(db),
             "--judge-model", "judge-m", "--judge-base-url", server.base_url],
            env={"OPENAI_API_KEY": "k"},
        )  # fmt: skip
        assert len(server.requests) == 1
    assert result.exit_code == 0, result.output
    assert "groundedness (groundedness@1)" in result.stdout and "pass score=0.9" in result.stdout
    assert "Stated in d1." in result.stdout
