"""Built-in templates on real traces: the demo app (OpenInference) and gen_ai fixtures.

Inputs are resolved with the templates' own default attribute paths on stored spans, so
this checks the whole "no mapping" promise: a judge prompt built from what the span and
its trace already carry, with the span's real content in the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tracejudge.client import Client
from tracejudge.demo import DemoRun, run_demo
from tracejudge.evals.judge import builtin_template, builtin_template_names, template_evaluator
from tracejudge.ingest.pipeline import ingest_file
from tracejudge.model import Span, Trace
from tracejudge.query.paths import resolve

from .conftest import JudgeServer

GENAI = Path(__file__).parents[2] / "fixtures" / "otlp" / "genai.pb"
REFERENCE = "The reference answer."


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoRun, Client]]:
    run = run_demo(tmp_path_factory.mktemp("demo") / "demo.db", questions=8, env={})
    with Client(run.db_path) as client:
        yield run, client


@pytest.fixture(scope="module")
def genai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with Client(tmp_path_factory.mktemp("genai") / "genai.db") as client:
        ingest_file(client.store, GENAI)
        yield client


def _root(trace: Trace) -> Span:
    (root,) = [s for s in trace.spans if s.parent_span_id is None]
    return root


def _inputs(name: str, span: Span, trace: Trace) -> dict[str, Any]:
    """The template's inputs read at their default paths (``reference`` supplied)."""
    template = builtin_template(name)
    inputs = {
        key: resolve(path, span, trace)
        for key, path in template.inputs.items()
        if key != "reference"
    }  # a span carries no reference answer: it is mapped
    if "reference" in template.inputs:
        inputs["reference"] = REFERENCE
    return inputs


def _demo_traces(demo: tuple[DemoRun, Client]) -> list[Trace]:
    run, client = demo
    return [client.trace(t.trace_id) for t in run.traces]


def _genai_traces(client: Client) -> list[Trace]:
    return [client.trace(t.trace_id) for t in client.traces("fixture-genai")]


def _assert_renders_span_content(name: str, inputs: Mapping[str, Any], span: Span) -> None:
    template = builtin_template(name)
    system, user = template.messages(inputs)
    text = user["content"]
    empty = [key for key in template.inputs if not inputs.get(key)]
    assert ("(none)" in text) == bool(empty), text  # an empty input says so, nothing else does
    if "input" in template.inputs:
        assert str(inputs["input"]) in text
    if "output" in template.inputs:
        assert str(inputs["output"]) in text
    for document in inputs.get("context") or ():
        assert document["content"] in text
    for call in inputs.get("tool_calls") or ():
        assert f"{call['name']}(" in text
    assert "{{" not in text and "None" not in text
    assert template.rubric.strip().splitlines()[0] in system["content"]


@pytest.mark.parametrize("name", builtin_template_names())
def test_every_builtin_renders_on_demo_traces(demo: tuple[DemoRun, Client], name: str) -> None:
    traces = _demo_traces(demo)
    assert len(traces) == 8
    for trace in traces:
        root = _root(trace)
        inputs = _inputs(name, root, trace)
        _assert_renders_span_content(name, inputs, root)


@pytest.mark.parametrize("name", builtin_template_names())
def test_every_builtin_renders_on_genai_traces(genai: Client, name: str) -> None:
    traces = _genai_traces(genai)
    assert len(traces) == 3
    for trace in traces:
        span = _root(trace)
        assert span.attributes["gen_ai.operation.name"] == "chat"
        inputs = _inputs(name, span, trace)
        _assert_renders_span_content(name, inputs, span)


def test_demo_trace_content_reaches_the_judge(
    demo: tuple[DemoRun, Client], judge_server: JudgeServer, fast_judge: Any
) -> None:
    """The rendered request carries the stored answer, documents and tool results."""
    tool_traces = [t for t in _demo_traces(demo) if any(s.kind == "TOOL" for s in t.spans)]
    trace = tool_traces[0]
    root = _root(trace)
    (tool,) = [s for s in trace.spans if s.kind == "TOOL"]
    (retriever,) = [s for s in trace.spans if s.kind == "RETRIEVER"]

    for name in ("groundedness", "task_completion", "tool_use"):
        result = template_evaluator(name, judge=fast_judge).evaluate(_inputs(name, root, trace))
        assert result.label == "pass", result.error
    grounded, task, tool_use = [r["messages"][1]["content"] for r in judge_server.chat_requests()]
    assert root.output and root.output in grounded
    first_document = retriever.attributes["retrieval.documents.0.document.content"]
    assert first_document in grounded
    assert root.input and root.input in task and root.output in task
    result = json.loads(tool.attributes["output.value"])
    assert json.dumps(result) in task  # the tool's real result, as the judge sees it
    assert tool.attributes["tool.name"] in tool_use
    assert "Look up the current status" in tool_use  # the offered tool's description


def test_genai_tool_call_reaches_the_judge(
    genai: Client, judge_server: JudgeServer, fast_judge: Any
) -> None:
    (trace,) = [t for t in _genai_traces(genai) if "get_weather" in (_root(t).output or "")]
    inputs = _inputs("tool_use", _root(trace), trace)
    assert template_evaluator("tool_use", judge=fast_judge).evaluate(inputs).label == "pass"
    text = judge_server.chat_requests()[0]["messages"][1]["content"]
    assert "What is the weather in Paris right now?" in text
    assert 'get_weather({"city": "Paris"})' in text
