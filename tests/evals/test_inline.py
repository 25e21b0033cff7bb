"""In-line ``evaluate``: results land on the active span through the real capture SDK and
ingest, in the embedded store and through the real server; failures never reach the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.server.conftest import run_server, wait_for

from tracejudge import semconv as sc
from tracejudge.capture import flush, observe, register, shutdown, span
from tracejudge.errors import ConfigurationError
from tracejudge.evals import EvalResult, aevaluate, evaluate, evaluator
from tracejudge.evals.code import contains, tool_call_valid
from tracejudge.model import Evaluation
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore

TOOLS = [{"name": "get_weather", "parameters": {"type": "object", "required": ["city"]}}]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "inline.db"
    open_store(path).close()  # create and migrate before the exporter opens it
    register("inline", db=path, batch=False, set_global=False)
    yield path
    shutdown()


def stored(db: Path) -> tuple[dict[str, str], list[Evaluation]]:
    """Span ids by name and every stored evaluation, read back from the database."""
    store = open_store(db)
    try:
        spans = store.list_spans("inline", limit=1000)
        evaluations = [e for s in spans for e in store.evaluations(span_id=s.span_id)]
        return {s.name: s.span_id for s in spans}, evaluations
    finally:
        store.close()


def test_result_is_attached_to_the_active_span_and_stored(db: Path) -> None:
    with span("answer", kind="CHAIN") as s:
        s.set_output("Your refund is on its way.")
        result = evaluate(contains("refund"), {"output": "Your refund is on its way."})
        named = evaluate("json_valid", {"output": "{"}, name="is_json")
    assert result == EvalResult(score=1.0, label="pass")
    assert named.label == "fail"
    ids, evaluations = stored(db)
    assert [(e.name, e.label, e.score, e.span_id) for e in evaluations] == [
        ("contains", "pass", 1.0, ids["answer"]),
        ("is_json", "fail", 0.0, ids["answer"]),
    ]
    first = evaluations[0]
    assert (first.evaluator, first.source, first.error) == ("contains@1", "inline", None)
    assert first.latency_ms is not None and first.latency_ms >= 0
    assert evaluations[1].explanation.startswith("not valid JSON")


def test_inputs_none_reads_the_active_span_and_its_live_trace(db: Path) -> None:
    @evaluator(name="cites_retrieved")
    def cites(output: str, context: list[dict[str, str]], question: str) -> EvalResult:
        ids = [d["id"] for d in context]
        return EvalResult(label="pass" if ids[0] in output else "fail", explanation=question)

    with span("agent", kind="AGENT") as root:
        root.set_input("Is Paris sunny?")
        with span("retrieve", kind="RETRIEVER") as r:
            r.set_documents([{"id": "d1", "content": "Paris is sunny."}])
        with span("respond", kind="CHAIN") as s:
            s.set_output("Yes, it is sunny (d1).")
            result = evaluate(cites)  # context: trace.documents, question: trace.input
        root.set_output("Yes, it is sunny (d1).")
    assert result == EvalResult(label="pass", explanation="Is Paris sunny?")
    ids, evaluations = stored(db)
    assert [(e.name, e.span_id, e.label) for e in evaluations] == [
        ("cites_retrieved", ids["respond"], "pass")
    ]


def test_tool_call_valid_inline_on_a_tool_span_reads_tools_from_the_ended_llm_span(
    db: Path,
) -> None:
    with span("agent", kind="AGENT"):
        with span("llm", kind="LLM") as llm:
            llm.set_attribute(
                "llm.tools.0.tool.json_schema",
                '{"type": "function", "function": {"name": "get_weather", '
                '"parameters": {"type": "object", "required": ["city"]}}}',
            )
        with span("get_weather", kind="TOOL") as tool:
            tool.set_tool("get_weather", arguments={"town": "Paris"})
            bad = evaluate(tool_call_valid())
        with span("get_weather", kind="TOOL") as tool:
            tool.set_tool("get_weather", arguments={"city": "Paris"})
            good = evaluate("tool_call_valid")
    assert bad.label == "fail" and "'city' is a required property" in (bad.explanation or "")
    assert good.label == "pass"
    _, evaluations = stored(db)
    assert sorted(e.label or "" for e in evaluations) == ["fail", "pass"]


def test_a_failing_evaluator_never_breaks_the_app_and_the_event_says_so(db: Path) -> None:
    @evaluator(name="flaky_judge")
    def flaky(output: str) -> bool:
        raise TimeoutError("judge timed out after 30s")

    @observe(kind="CHAIN")
    def handle(question: str) -> str:
        answer = f"echo {question}"
        evaluate(flaky, {"output": answer})
        evaluate("refusal")  # inputs=None inside an observed function: reads its input only
        return answer

    assert handle("hi") == "echo hi"
    ids, evaluations = stored(db)
    by_name = {e.name: e for e in evaluations}
    assert by_name["flaky_judge"].error == "TimeoutError: judge timed out after 30s"
    assert by_name["flaky_judge"].label is None and by_name["flaky_judge"].score is None
    # refusal reads `output`, which observe sets only when the function returns.
    assert by_name["refusal"].error == "missing required input(s): output"
    assert {e.span_id for e in evaluations} == {ids["handle"]}


def test_without_an_active_span_the_result_is_returned_and_logged(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tracejudge.evals.inline"):
        result = evaluate(contains("a"), {"output": "abc"})
        missing = evaluate("json_valid")  # nothing to read inputs from
    assert result.label == "pass"
    assert missing.error == "inputs=None needs an active (recording) span to read from"
    assert "no active span" in caplog.text
    assert stored(db)[1] == []
    with pytest.raises(ConfigurationError, match="unknown name"):
        evaluate("no_such_evaluator", {"output": "x"})


def test_trace_eval_false_does_not_attach(db: Path) -> None:
    with span("quiet", kind="CHAIN"):
        assert evaluate(contains("a"), {"output": "a"}, trace_eval=False).passed
    assert stored(db)[1] == []


def test_aevaluate_attaches_to_the_span_of_its_task(db: Path) -> None:
    @evaluator(name="async_check")
    async def check(output: str) -> bool:
        await asyncio.sleep(0.01)
        return output.startswith("ok")

    async def one(i: int) -> EvalResult:
        async with span(f"task{i}", kind="CHAIN") as s:
            s.set_output(f"ok {i}" if i % 2 == 0 else f"no {i}")
            return await aevaluate(check)

    async def main() -> list[EvalResult]:
        return await asyncio.gather(*(one(i) for i in range(4)))

    results = asyncio.run(main())
    assert [r.label for r in results] == ["pass", "fail", "pass", "fail"]
    ids, evaluations = stored(db)
    got = {e.span_id: e.label for e in evaluations}
    assert got == {ids[f"task{i}"]: "pass" if i % 2 == 0 else "fail" for i in range(4)}


def test_event_shape_on_the_span(db: Path) -> None:
    store = open_store(db)
    with span("shape", kind="CHAIN"):
        evaluate(contains("x"), {"output": "y"}, name="has_x")
    try:
        (stored_span,) = store.list_spans("inline", limit=10)
    finally:
        store.close()
    (event,) = stored_span.events
    assert event["name"] == sc.GEN_AI_EVALUATION_RESULT
    attrs = event["attributes"]
    assert attrs[sc.GEN_AI_EVALUATION_NAME] == "has_x"
    assert attrs[sc.GEN_AI_EVALUATION_SCORE_VALUE] == 0.0
    assert attrs[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "fail"
    assert attrs[sc.GEN_AI_EVALUATION_EXPLANATION] == "missing 'x'"
    assert attrs[sc.TJ_EVALUATOR] == "contains@1"
    assert sc.TJ_EVALUATION_ERROR not in attrs and sc.TJ_EVALUATION_LATENCY_MS in attrs


def test_inline_results_arrive_through_the_real_server(tmp_path: Path) -> None:
    store = open_store(tmp_path / "server.db")
    assert isinstance(store, SQLiteStore)
    try:
        with run_server(store) as url:
            register("inline-remote", endpoint=url, set_global=False)
            try:
                with span("answer", kind="CHAIN") as s:
                    s.set_output("refund issued")
                    evaluate(contains("refund"))
                    evaluate(evaluator(name="boom")(lambda output: 1 / 0))
                assert flush(10)
            finally:
                shutdown()
            assert wait_for(lambda: len(store.list_spans("inline-remote")) == 1)
            (answer,) = store.list_spans("inline-remote")
            evaluations = {e.name: e for e in store.evaluations(span_id=answer.span_id)}
    finally:
        store.close()
    assert evaluations["contains"].label == "pass"
    assert evaluations["contains"].source == "inline"
    assert evaluations["boom"].error == "ZeroDivisionError: division by zero"
