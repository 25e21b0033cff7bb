"""The demo's in-line evaluations: the offline judge's verdicts, and the assistant scoring
itself on its own spans (groundedness by the judge, tool_call_valid by code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai import OpenAI

from tracejudge.capture import flush, register, shutdown
from tracejudge.client import Client
from tracejudge.demo import SupportAssistant, demo_responder
from tracejudge.demo.verdicts import grounded_verdict, is_judge_request, judge_reply
from tracejudge.evals.judge import Judge, builtin_template, template_evaluator
from tracejudge.store import open_store
from tracejudge.testing import OpenAIServer
from tracejudge.testing.openai_server import Fail

CONTEXT = "[1] (id: kb-returns) Unused items can be returned within 60 days for a full refund."


def test_grounded_verdict_checks_each_sentence_against_the_context() -> None:
    supported = grounded_verdict(
        "Unused items can be returned within 60 days. (source: kb-returns)", CONTEXT
    )
    assert supported == {
        "reasoning": "All 1 factual sentence(s) of the answer are stated in the context.",
        "label": "pass",
        "score": 1.0,
    }
    mixed = grounded_verdict(
        "Unused items can be returned within 60 days. Shipping to Mars is free.", CONTEXT
    )
    assert mixed["label"] == "fail" and mixed["score"] == 0.5
    assert "'Shipping to Mars is free.'" in mixed["reasoning"]
    admission = grounded_verdict("I don't know: there is no article about that.", CONTEXT)
    assert admission["label"] == "pass" and "no factual claim" in admission["reasoning"]


def _judge_request(template: str, inputs: dict[str, Any], mode: str) -> dict[str, Any]:
    messages = builtin_template(template).messages(inputs, mode)
    body: dict[str, Any] = {"model": "m", "messages": messages}
    if mode == "json_object":
        body["response_format"] = {"type": "json_object"}
    else:
        body["tools"] = [{"type": "function", "function": {"name": "verdict"}}]
    return body


def test_judge_requests_are_recognized_and_answered_in_the_requested_mode() -> None:
    inputs = {"output": "Shipping to Mars is free.", "context": [{"id": "kb", "content": "x"}]}
    as_json = _judge_request("groundedness", inputs, "json_object")
    assert is_judge_request(as_json)
    reply = demo_responder(as_json)
    assert isinstance(reply, str) and json.loads(reply)["label"] == "fail"
    assert list(json.loads(reply)) == ["reasoning", "label", "score"]  # reasoning first
    as_tool = judge_reply(_judge_request("groundedness", inputs, "tool"))
    assert isinstance(as_tool, dict)
    assert as_tool["tool_calls"][0]["name"] == "verdict"
    assert as_tool["tool_calls"][0]["arguments"]["label"] == "fail"
    other = json.loads(
        str(judge_reply(_judge_request("toxicity", {"output": "hi"}, "json_object")))
    )
    assert other["label"] == "pass" and "no rule for 'toxicity'" in other["reasoning"]
    assert not is_judge_request({"messages": [{"role": "user", "content": "hi"}]})


def test_the_real_judge_client_parses_the_offline_judge(tmp_path: Path) -> None:
    with OpenAIServer(demo_responder) as server:
        judge = Judge(model="demo", base_url=server.base_url, api_key="k", max_retries=0)
        ev = template_evaluator("groundedness", judge=judge)
        good = ev.evaluate({"output": "Unused items can be returned within 60 days.",
                            "context": [{"id": "kb-returns", "content": CONTEXT}]})  # fmt: skip
        bad = ev.evaluate({"output": "Everything is free forever.",
                           "context": [{"id": "kb-returns", "content": CONTEXT}]})  # fmt: skip
    assert (good.label, good.score) == ("pass", 1.0)
    assert bad.label == "fail" and "not supported" in (bad.explanation or "").lower()


def _judge_down(request: dict[str, Any]) -> Any:
    """The demo model, except that every judge request gets a 500."""
    if "response_format" in request:
        raise Fail(500, "judge overloaded")
    return demo_responder(request)


def test_a_failing_judge_does_not_break_the_assistant(tmp_path: Path) -> None:
    db = tmp_path / "judge-down.db"
    open_store(db).close()
    with OpenAIServer(_judge_down) as server:
        register("judge-down", db=db, batch=False, set_global=False, auto_instrument=True)
        try:
            assistant = SupportAssistant(
                OpenAI(base_url=server.base_url, api_key="k", max_retries=0),
                model="demo",
                judge=Judge(model="demo", base_url=server.base_url, api_key="k", max_retries=1,
                            backoff_s=0.01, max_backoff_s=0.01),
            )  # fmt: skip
            answer = assistant.ask("Where is my order TH-1042?")
            assert flush(10)
        finally:
            shutdown()
        judge_requests = [r for r in server.requests if "response_format" in (r.json or {})]
    assert answer.error is None and "TH-1042" in answer.text and "shipped" in answer.text
    assert len(judge_requests) == 2  # the first try and one retry
    with Client(db) as client:
        trace = client.trace(answer.trace_id, project="judge-down")
        evaluations = {e.name: e for e in client.evaluations(trace_id=answer.trace_id)}
    assert trace.root is not None
    groundedness = evaluations["groundedness"]
    assert groundedness.span_id == trace.root.span_id
    assert groundedness.label is None and "500" in (groundedness.error or "")
    (tool,) = [s for s in trace.spans if s.kind == "TOOL"]
    assert evaluations["tool_call_valid"].span_id == tool.span_id
    assert evaluations["tool_call_valid"].label == "pass"
