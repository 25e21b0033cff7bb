"""The demo end to end: offline demo model, real openai SDK + instrumentor, real SQLite store.

One run of all questions is shared by the module (about a second); each test reads the
stored traces back through the public Client and checks one part of the picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracejudge.client import Client
from tracejudge.demo import (
    FALLBACK_ANSWER,
    OFFLINE_MODEL,
    QUESTIONS,
    DemoRun,
    Expect,
    resolve_endpoint,
    run_demo,
)
from tracejudge.demo.prompt import NO_CONTEXT
from tracejudge.demo.responder import DONT_KNOW, PRICE_GUESS, REFUSAL
from tracejudge.errors import ConfigurationError
from tracejudge.model import Span, Trace
from tracejudge.testing import OpenAIServer


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    return run_demo(db, env={})  # no OPENAI_* variables: the offline demo model


@pytest.fixture(scope="module")
def client(demo_run: DemoRun):  # type: ignore[no-untyped-def]
    with Client(demo_run.db_path) as c:
        yield c


def _trace_of(demo_run: DemoRun, client: Client, text: str) -> Trace:
    (result,) = [r for r in demo_run.results if r.question.text == text]
    return client.trace(result.trace_id, project="demo")


def _first(expect: Expect) -> str:
    return next(q.text for q in QUESTIONS if q.expect == expect)


def _children(trace: Trace) -> list[Span]:
    root = trace.root
    assert root is not None
    return trace.children(root)


def test_every_question_is_one_stored_trace(demo_run: DemoRun) -> None:
    assert demo_run.endpoint.offline and demo_run.endpoint.model == OFFLINE_MODEL
    assert len(demo_run.results) == len(QUESTIONS) == 20
    assert [t.trace_id for t in demo_run.traces] == [r.trace_id for r in demo_run.results]
    assert len({r.trace_id for r in demo_run.results}) == 20
    for result, summary in zip(demo_run.results, demo_run.traces, strict=True):
        assert summary.input_preview == result.question.text
        assert summary.output_preview and result.answer.startswith(summary.output_preview[:50])
        assert summary.name == "support_agent"
        assert summary.total_tokens > 0
    assert not any(r.error for r in demo_run.results)


def test_tool_trace_holds_the_whole_interaction(demo_run: DemoRun, client: Client) -> None:
    question = "Where is my order TH-1042?"
    trace = _trace_of(demo_run, client, question)
    root = trace.root
    assert root is not None and root.kind == "AGENT"
    assert root.input == question
    assert root.output is not None and "TH-1042" in root.output and "shipped" in root.output
    assert len(trace) == 5 and not trace.orphans

    retriever, llm1, tool, llm2 = _children(trace)
    assert [s.kind for s in (retriever, llm1, tool, llm2)] == ["RETRIEVER", "LLM", "TOOL", "LLM"]
    assert all(s.parent_span_id == root.span_id for s in (retriever, llm1, tool, llm2))
    assert all(s.trace_id == root.trace_id for s in trace.spans)

    # Retrieved documents: id, content and score.
    docs = retriever.attributes
    assert docs["retrieval.documents.0.document.id"] == "kb-order-tracking"
    assert "Order numbers look like TH-1234" in docs["retrieval.documents.0.document.content"]
    assert docs["retrieval.documents.0.document.score"] > 0

    # First model call: system prompt with that context, the user question, the tool offered.
    a1 = llm1.attributes
    assert a1["llm.input_messages.0.message.role"] == "system"
    system_prompt = a1["llm.input_messages.0.message.content"]
    assert "customer-support assistant" in system_prompt
    assert "[kb-order-tracking]" in system_prompt
    assert a1["llm.input_messages.1.message.role"] == "user"
    assert a1["llm.input_messages.1.message.content"] == question
    assert "get_order_status" in a1["llm.tools.0.tool.json_schema"]
    call = "llm.output_messages.0.message.tool_calls.0.tool_call"
    assert a1[f"{call}.function.name"] == "get_order_status"
    assert json.loads(a1[f"{call}.function.arguments"]) == {"order_id": "TH-1042"}
    assert llm1.model == OFFLINE_MODEL

    # The tool: name, arguments and result.
    assert tool.name == "get_order_status" and tool.status != "ERROR"
    assert tool.attributes["tool.name"] == "get_order_status"
    assert json.loads(tool.input or "") == {"order_id": "TH-1042"}
    assert json.loads(tool.output or "")["status"] == "shipped"

    # Second model call: the tool result went back to the model; its answer is the output.
    a2 = llm2.attributes
    assert a2["llm.input_messages.3.message.role"] == "tool"
    assert json.loads(a2["llm.input_messages.3.message.content"])["carrier"] == "UPS"
    assert a2["llm.output_messages.0.message.content"] == root.output
    assert llm2.prompt_tokens and llm2.completion_tokens


def test_spans_carry_session_user_and_expectation(demo_run: DemoRun, client: Client) -> None:
    trace = _trace_of(demo_run, client, "Where is my order TH-1042?")
    for s in trace.spans:  # including the LLM spans the openai instrumentor made
        assert (s.session_id, s.user_id) == ("sess-ana-1", "user-ana")
        assert json.loads(s.attributes["metadata"]) == {"demo.expect": "tool"}


def test_tool_error_marks_the_tool_span(demo_run: DemoRun, client: Client) -> None:
    trace = _trace_of(demo_run, client, _first(Expect.TOOL_ERROR))
    kinds = [s.kind for s in _children(trace)]
    assert kinds == ["RETRIEVER", "LLM", "TOOL", "LLM"]
    tool = _children(trace)[2]
    assert tool.status == "ERROR"
    assert "no order with id 'TH-9999'" in (tool.status_message or "")
    assert any(e["name"] == "exception" for e in tool.events)
    root = trace.root
    assert root is not None and root.output is not None
    assert root.output.startswith("I couldn't look up that order")
    (summary,) = [t for t in demo_run.traces if t.trace_id == root.trace_id]
    assert summary.status == "ERROR"


def test_missing_context_says_it_does_not_know(demo_run: DemoRun, client: Client) -> None:
    trace = _trace_of(demo_run, client, _first(Expect.NO_CONTEXT))
    retriever, llm = _children(trace)
    assert not any(k.startswith("retrieval.documents.") for k in retriever.attributes)
    assert NO_CONTEXT in llm.attributes["llm.input_messages.0.message.content"]
    assert trace.root is not None and trace.root.output == DONT_KNOW


def test_refusal_does_not_call_the_tool(demo_run: DemoRun, client: Client) -> None:
    trace = _trace_of(demo_run, client, _first(Expect.REFUSAL))
    assert [s.kind for s in _children(trace)] == ["RETRIEVER", "LLM"]
    assert trace.root is not None and trace.root.output == REFUSAL


def test_answers_come_from_the_retrieved_articles(demo_run: DemoRun) -> None:
    for r in demo_run.results:
        if r.question.expect == Expect.ANSWER:
            assert "(source: kb-" in r.answer, r


def test_stored_spans_verify(demo_run: DemoRun, client: Client) -> None:
    report = client.verify()
    # The app's traces plus the EVALUATOR traces of the in-line judge calls.
    assert report.ok and report.checked == len(client.spans("demo", limit=10_000))
    assert report.checked > sum(t.span_count for t in demo_run.traces)


def test_inline_evaluations_are_stored_on_the_spans_they_judged(
    demo_run: DemoRun, client: Client
) -> None:
    tool_expectations = (Expect.TOOL, Expect.TOOL_ERROR)
    tool_questions = [r for r in demo_run.results if r.question.expect in tool_expectations]
    by_name: dict[str, list[str]] = {}
    for e in demo_run.evaluations:
        by_name.setdefault(e.name, []).append(e.span_id)
        assert e.source == "inline" and e.error is None, e
    assert len(by_name["groundedness"]) == len(demo_run.results) == 20
    assert len(by_name["tool_call_valid"]) == len(tool_questions) > 0
    for result in demo_run.results:
        trace = client.trace(result.trace_id, project="demo")
        assert trace.root is not None
        (grounded,) = [e for e in demo_run.evaluations if e.trace_id == result.trace_id
                       and e.name == "groundedness"]  # fmt: skip
        assert grounded.span_id == trace.root.span_id
        assert grounded.evaluator == "groundedness@1" and grounded.judge_model == OFFLINE_MODEL
        assert grounded.explanation
        for tool in (s for s in trace.spans if s.kind == "TOOL"):
            (check,) = [e for e in demo_run.evaluations if e.span_id == tool.span_id]
            assert (check.name, check.label) == ("tool_call_valid", "pass")
    stats = {s.name: s for s in demo_run.evaluator_stats()}
    assert set(stats) == {"groundedness", "tool_call_valid"}
    assert stats["groundedness"].passed + stats["groundedness"].failed == 20
    assert stats["tool_call_valid"].pass_rate == 1.0
    # Every judge call is its own EVALUATOR trace in the project, not in the app's trace.
    judge_traces = [t for t in client.traces("demo", limit=100) if t.name != "support_agent"]
    assert len(judge_traces) == 20


def test_groundedness_fails_exactly_the_answer_with_a_made_up_price(demo_run: DemoRun) -> None:
    """The demo model's deliberate hallucination is caught by the in-line judge, and only it."""
    guessed = {r.trace_id for r in demo_run.results if PRICE_GUESS in r.answer}
    assert len(guessed) == 1
    grounded = {e.trace_id: e for e in demo_run.evaluations if e.name == "groundedness"}
    failed = {t for t, e in grounded.items() if e.label == "fail"}
    assert failed == guessed
    (trace_id,) = guessed
    assert PRICE_GUESS in (grounded[trace_id].explanation or "")
    assert grounded[trace_id].score is not None and grounded[trace_id].score < 1.0


def test_failing_endpoint_gives_fallback_answers_and_error_traces(tmp_path: Path) -> None:
    """A configured endpoint that fails: the app answers with its fallback, traces say ERROR."""
    with OpenAIServer() as server:
        server.fail_next(503, times=100)
        env = {
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "k",
            "TRACEJUDGE_DEMO_MODEL": "m",
        }
        run = run_demo(tmp_path / "fail.db", questions=2, env=env)
    assert not run.endpoint.offline and run.endpoint.model == "m"
    assert run.failed
    assert [r.answer for r in run.results] == [FALLBACK_ANSWER] * 2
    assert all("503" in (r.error or "") for r in run.results)
    assert [t.status for t in run.traces] == ["ERROR", "ERROR"]
    assert all(req.headers.get("authorization") == "Bearer k" for req in server.requests)


def test_questions_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="questions"):
        run_demo(tmp_path / "x.db", questions=0, env={})
    assert not (tmp_path / "x.db").exists()


def test_resolve_endpoint() -> None:
    assert resolve_endpoint({}) is None
    assert resolve_endpoint({"OPENAI_API_KEY": ""}) is None
    key_only = resolve_endpoint({"OPENAI_API_KEY": "sk-x"})
    assert key_only is not None and key_only.base_url is None and key_only.model == "gpt-4o-mini"
    local = resolve_endpoint(
        {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "TRACEJUDGE_DEMO_MODEL": "q"}
    )
    assert local is not None and (local.base_url, local.model) == ("http://127.0.0.1:9/v1", "q")
    assert not local.offline
