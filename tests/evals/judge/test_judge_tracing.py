"""Every judge call is an EVALUATOR span in its own trace, pointing at the span it judged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tracejudge import capture
from tracejudge.capture._state import current
from tracejudge.client import Client
from tracejudge.evals.base import EvalResult, Evaluator
from tracejudge.evals.judge import (
    TARGET_SPAN_ID,
    TARGET_TRACE_ID,
    Judge,
    evaluation_target,
    template_evaluator,
)

from .conftest import PASS_VERDICT, JudgeServer

INPUTS = {"output": "Refunds take 5 business days.", "context": ["Refunds: 5 business days."]}


def _hex(span: ReadableSpan) -> tuple[str, str]:
    ctx = span.get_span_context()
    assert ctx is not None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _by_name(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (found,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return found


def test_evaluator_span_is_its_own_trace_and_names_its_target(
    finished_spans: InMemorySpanExporter, fast_judge: Judge
) -> None:
    evaluator = template_evaluator("groundedness", judge=fast_judge)
    with capture.span("answer", kind="AGENT"):
        result = evaluator.evaluate(INPUTS)
    assert result.label == "pass"

    app = _by_name(finished_spans, "answer")
    judge = _by_name(finished_spans, "judge groundedness")
    app_trace, app_span = _hex(app)
    judge_trace, _ = _hex(judge)
    assert judge_trace != app_trace and judge.parent is None
    attrs = dict(judge.attributes or {})
    assert attrs["openinference.span.kind"] == "EVALUATOR"
    assert attrs[TARGET_TRACE_ID] == app_trace and attrs[TARGET_SPAN_ID] == app_span
    assert attrs["tracejudge.evaluation.evaluator"] == "groundedness@1"
    assert "[1] Refunds: 5 business days." in attrs["input.value"]  # the rendered prompt
    assert attrs["llm.input_messages.0.message.role"] == "system"
    assert json.loads(attrs["output.value"]) == PASS_VERDICT  # the raw verdict
    assert attrs["llm.model_name"] == "judge-model"
    assert attrs["llm.token_count.prompt"] == result.metadata["prompt_tokens"] > 0
    assert attrs["llm.token_count.completion"] == result.metadata["completion_tokens"] > 0
    assert attrs["tracejudge.evaluation.label"] == "pass"
    assert judge.status.status_code == StatusCode.UNSET


def test_async_evaluation_inside_an_async_app_span(
    finished_spans: InMemorySpanExporter, fast_judge: Judge
) -> None:
    evaluator = template_evaluator("groundedness", judge=fast_judge)

    async def app() -> None:
        async with capture.span("answer", kind="AGENT"):
            results = await asyncio.gather(*(evaluator.aevaluate(INPUTS) for _ in range(3)))
            assert all(r.label == "pass" for r in results)

    asyncio.run(app())
    app_trace, app_span = _hex(_by_name(finished_spans, "answer"))
    judges = [s for s in finished_spans.get_finished_spans() if s.name == "judge groundedness"]
    assert len(judges) == 3
    assert len({_hex(s)[0] for s in judges} | {app_trace}) == 4  # four distinct traces
    for span in judges:
        assert span.parent is None
        assert (span.attributes or {})[TARGET_SPAN_ID] == app_span


def test_failed_judge_call_is_an_error_span(
    finished_spans: InMemorySpanExporter, judge_server: JudgeServer, fast_judge: Judge
) -> None:
    judge_server.fail_next(500, times=3)
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    span = _by_name(finished_spans, "judge toxicity")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == result.error
    assert (span.attributes or {})["tracejudge.evaluation.error"] == result.error


def test_explicit_target_for_stored_spans(
    finished_spans: InMemorySpanExporter, fast_judge: Judge
) -> None:
    evaluator = template_evaluator("toxicity", judge=fast_judge)
    evaluator.evaluate({"output": "hi"})  # nothing active: no target
    with evaluation_target("ab" * 16, "cd" * 8):
        evaluator.evaluate({"output": "hi"})
    untargeted, targeted = [dict(s.attributes or {}) for s in finished_spans.get_finished_spans()]
    assert TARGET_TRACE_ID not in untargeted
    assert (targeted[TARGET_TRACE_ID], targeted[TARGET_SPAN_ID]) == ("ab" * 16, "cd" * 8)


def test_without_a_capture_the_judge_still_works(fast_judge: Judge) -> None:
    assert current() is None
    assert isinstance(template_evaluator("toxicity", judge=fast_judge), Evaluator)
    result = template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    assert result.label == "pass"


def test_instrumented_judge_call_lands_under_the_evaluator_span(fast_judge: Judge) -> None:
    exporter = InMemorySpanExporter()
    capture.register(
        "judge-tests", span_exporter=exporter, set_global=False, batch=False, auto_instrument=True
    )
    try:
        cap = current()
        assert cap is not None and "openai" in cap.instrumented
        with capture.span("answer", kind="AGENT"):
            template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
    finally:
        capture.shutdown()
    spans = exporter.get_finished_spans()
    judge = _by_name(exporter, "judge toxicity")
    (llm,) = [s for s in spans if (s.attributes or {}).get("openinference.span.kind") == "LLM"]
    assert llm.parent is not None and llm.parent.span_id == judge.context.span_id
    # The instrumentor still parsed the reply it saw (the judge reads it raw).
    assert json.loads((llm.attributes or {})["llm.output_messages.0.message.content"]) == (
        PASS_VERDICT
    )
    assert _hex(llm)[0] == _hex(judge)[0] != _hex(_by_name(exporter, "answer"))[0]


def test_evaluator_span_is_stored_in_its_own_trace(tmp_path: Path, fast_judge: Judge) -> None:
    db = tmp_path / "t.db"
    with Client(db):  # create the store before the exporter writes to it
        pass
    capture.register("shop", db=db, set_global=False, batch=False)
    try:
        with capture.span("answer", kind="AGENT") as app:
            app_trace = format(app.otel_span.get_span_context().trace_id, "032x")
            template_evaluator("toxicity", judge=fast_judge).evaluate({"output": "hi"})
        assert capture.flush()
    finally:
        capture.shutdown()
    with Client(db) as client:
        (evaluator,) = client.spans("shop", kind="EVALUATOR")
        assert evaluator.trace_id != app_trace and evaluator.parent_span_id is None
        assert evaluator.attributes[TARGET_TRACE_ID] == app_trace
        assert evaluator.model == "judge-model" and evaluator.output is not None
        assert [s.name for s in client.trace(app_trace).spans] == ["answer"]


def test_queueing_for_a_slot_is_not_judge_latency(
    finished_spans: InMemorySpanExporter, judge_server: JudgeServer
) -> None:
    # 0.3 s per call leaves a wide margin between "own latency" (~0.3 s) and "latency plus
    # the wait for the slot" (~0.6 s for the last call) even on a loaded machine.
    judge_server.latency_s = 0.3
    judge = Judge(base_url=judge_server.base_url, concurrency=1)
    evaluator = template_evaluator("toxicity", judge=judge)

    async def run() -> list[EvalResult]:
        return await asyncio.gather(*(evaluator.aevaluate({"output": "hi"}) for _ in range(3)))

    results = asyncio.run(run())
    spans = [s for s in finished_spans.get_finished_spans() if s.name == "judge toxicity"]
    assert len(spans) == 3
    for span in spans:  # each measured ~0.3 s, although the last waited ~0.6 s for its slot
        assert span.end_time is not None and span.start_time is not None
        assert 0.29 < (span.end_time - span.start_time) / 1e9 < 0.55
    assert all(0.29 < r.metadata["latency_ms"] / 1000 < 0.55 for r in results)
    starts = sorted(s.start_time or 0 for s in spans)
    assert (
        starts[2] - starts[0]
    ) / 1e9 > 0.58  # and they really ran one after another  # and they really ran one after another
