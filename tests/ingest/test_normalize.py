"""Normalization: both conventions give the same canonical columns; odd values never drop a span."""

from __future__ import annotations

import json

import pytest

from tracejudge.ingest.normalize import evaluation_id, normalize
from tracejudge.ingest.project import resolve_project
from tracejudge.ingest.raw import RawSpan
from tracejudge.model import Evaluation

TID, SID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def raw(attributes: dict | None = None, events: list | None = None, **kw) -> RawSpan:
    fields = {
        "trace_id": TID,
        "span_id": SID,
        "parent_span_id": None,
        "name": "span",
        "otel_kind": "CLIENT",
        "status_code": "OK",
        "status_message": None,
        "start_ns": 1_000,
        "end_ns": 2_000,
        "attributes": attributes or {},
        "events": events or [],
        "resource": {"service.name": "svc"},
        "scope": {"name": "s", "version": "1"},
    }
    fields.update(kw)
    return RawSpan(**fields)


DERIVED = (
    "kind",
    "input",
    "output",
    "model",
    "provider",
    "prompt_tokens",
    "completion_tokens",
    "session_id",
    "user_id",
)
EXPECTED = ("LLM", "What is 2+2?", "4", "gpt-4o", "openai", 12, 3, "sess-1", None)

CONVENTIONS = {
    "openinference": {
        "openinference.span.kind": "LLM",
        "input.value": "What is 2+2?",
        "output.value": "4",
        "llm.model_name": "gpt-4o",
        "llm.provider": "openai",
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 3,
        "session.id": "sess-1",
    },
    "openinference flattened messages": {
        "openinference.span.kind": "llm",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "What is 2+2?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "4",
        "llm.model_name": "gpt-4o",
        "llm.system": "openai",
        "llm.token_count.prompt": "12",
        "llm.token_count.completion": 3.0,
        "session.id": "sess-1",
    },
    "genai json messages": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-2024",
        "gen_ai.response.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.conversation.id": "sess-1",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]},
                {"role": "assistant", "parts": [{"type": "text", "content": "thinking"}]},
            ]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "4"}]}]
        ),
    },
    "traceloop": {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.response.model": "gpt-4o",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "What is 2+2?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "4",
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 3,
        "session.id": "sess-1",
    },
}


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_every_convention_normalizes_to_the_same_columns(convention: str) -> None:
    attributes = CONVENTIONS[convention]
    span, evaluations = normalize(raw(dict(attributes)), "proj")
    assert tuple(getattr(span, f) for f in DERIVED) == EXPECTED
    assert span.attributes == attributes  # kept exactly as sent
    assert (span.project, span.status, span.otel_kind) == ("proj", "OK", "CLIENT")
    assert evaluations == []


def test_older_genai_message_events() -> None:
    events = [
        {"name": "gen_ai.system.message", "time_ns": 1, "attributes": {"content": "Be brief."}},
        {"name": "gen_ai.user.message", "time_ns": 1, "attributes": {"content": "What is 2+2?"}},
        {
            "name": "gen_ai.choice",
            "time_ns": 2,
            "attributes": {"index": 0, "message": {"role": "assistant", "content": "4"}},
        },
    ]
    span, _ = normalize(raw({"gen_ai.operation.name": "chat"}, events), "p")
    assert (span.kind, span.input, span.output) == ("LLM", "What is 2+2?", "4")
    assert span.events == events


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ({"openinference.span.kind": "RETRIEVER"}, "RETRIEVER"),
        ({"openinference.span.kind": "nonsense"}, "UNKNOWN"),
        ({"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ({"gen_ai.operation.name": "execute_tool"}, "TOOL"),
        ({"gen_ai.operation.name": "invoke_agent"}, "AGENT"),
        ({"gen_ai.operation.name": "create_agent"}, "AGENT"),
        ({"gen_ai.operation.name": "generate_content"}, "LLM"),
        ({"gen_ai.operation.name": "text_completion"}, "LLM"),
        ({"traceloop.span.kind": "workflow"}, "CHAIN"),
        ({"llm.request.type": "embedding"}, "EMBEDDING"),
        ({}, "UNKNOWN"),
    ],
)
def test_kind_mapping(attributes: dict, kind: str) -> None:
    assert normalize(raw(attributes), "p")[0].kind == kind


def test_malformed_and_unknown_attributes_keep_the_span() -> None:
    attributes = {
        "openinference.span.kind": 42,
        "input.value": {"structured": [1, 2]},
        "gen_ai.output.messages": "{broken json",
        "gen_ai.usage.input_tokens": "many",
        "gen_ai.usage.output_tokens": True,
        "llm.model_name": ["not", "a", "string"],
        "gen_ai.request.model": "fallback-model",
        "session.id": "",
        "user.id": 7,
        "tag.tags": ["a", 1, None, {"x": 1}],
        "gen_ai.some.future.key": {"kept": True},
        "annotations.x.annotation.name": "bad index",
    }
    span, evaluations = normalize(raw(dict(attributes)), "p")
    assert span.attributes == attributes
    assert span.kind == "UNKNOWN"
    assert span.input == '{"structured":[1,2]}'
    assert span.output is None
    assert (span.prompt_tokens, span.completion_tokens) == (None, None)
    assert span.model == "fallback-model"
    assert (span.session_id, span.user_id) == (None, "7")
    assert span.tags == ("a", "1")
    assert evaluations == []


def test_tags_from_json_string() -> None:
    assert normalize(raw({"tag.tags": '["x", "y"]'}), "p")[0].tags == ("x", "y")
    assert normalize(raw({"tag.tags": "solo"}), "p")[0].tags == ("solo",)


def test_evaluation_events_become_evaluations() -> None:
    events = [
        {"name": "other", "time_ns": 1, "attributes": {}},
        {
            "name": "gen_ai.evaluation.result",
            "time_ns": 1_500,
            "attributes": {
                "gen_ai.evaluation.name": "relevance",
                "gen_ai.evaluation.score.value": 0.75,
                "gen_ai.evaluation.score.label": "relevant",
                "gen_ai.evaluation.explanation": "on topic",
                "tracejudge.evaluation.evaluator": "relevance@1",
                "tracejudge.evaluation.judge_model": "gpt-4o",
                "tracejudge.evaluation.latency_ms": 12,
            },
        },
        {
            "name": "gen_ai.evaluation.result",
            "time_ns": 0,
            "attributes": {
                "gen_ai.evaluation.name": "format",
                "gen_ai.evaluation.score.value": "not a number",
                "tracejudge.evaluation.error": "judge timed out",
            },
        },
    ]
    span, evaluations = normalize(raw({}, events), "proj")
    assert evaluations == [
        Evaluation(
            id=evaluation_id(TID, SID, "event", 1),
            trace_id=TID,
            span_id=SID,
            project="proj",
            name="relevance",
            score=0.75,
            label="relevant",
            explanation="on topic",
            evaluator="relevance@1",
            source="inline",
            judge_model="gpt-4o",
            latency_ms=12.0,
            created_at_ns=1_500,
        ),
        Evaluation(
            id=evaluation_id(TID, SID, "event", 2),
            trace_id=TID,
            span_id=SID,
            project="proj",
            name="format",
            error="judge timed out",
            created_at_ns=2_000,  # no event time: the span's end
        ),
    ]
    assert len(span.events) == 3


def test_openinference_inline_feedback_attributes() -> None:
    attributes = {
        "annotations.0.annotation.name": "thumbs",
        "annotations.0.annotation.label": "up",
        "annotations.0.annotation.score": 1,
        "evaluations.1.evaluation.name": "hallucination",
        "evaluations.1.evaluation.score": "0.2",
        "evaluations.1.evaluation.explanation": "mostly grounded",
    }
    _, evaluations = normalize(raw(attributes), "p")
    summary = [(e.name, e.score, e.label, e.explanation, e.created_at_ns) for e in evaluations]
    assert summary == [
        ("thumbs", 1.0, "up", None, 2_000),
        ("hallucination", 0.2, None, "mostly grounded", 2_000),
    ]
    assert evaluations[0].id == evaluation_id(TID, SID, "annotations", 0)
    assert evaluations[1].id == evaluation_id(TID, SID, "evaluations", 1)


def test_evaluation_ids_are_deterministic_and_distinct() -> None:
    first = normalize(raw({"annotations.0.annotation.name": "a"}), "p")[1]
    again = normalize(raw({"annotations.0.annotation.name": "a"}), "p")[1]
    other_span = normalize(raw({"annotations.0.annotation.name": "a"}, span_id="1" * 16), "p")[1]
    assert first[0].id == again[0].id
    assert first[0].id != other_span[0].id


@pytest.mark.parametrize(
    ("explicit", "resource", "project"),
    [
        ("given", {"openinference.project.name": "oi", "service.name": "svc"}, "given"),
        (None, {"openinference.project.name": "oi", "service.name": "svc"}, "oi"),
        (None, {"service.name": "svc"}, "svc"),
        ("  ", {"service.name": 5}, "default"),
        (None, {}, "default"),
    ],
)
def test_resolve_project(explicit: str | None, resource: dict, project: str) -> None:
    assert resolve_project(explicit, resource) == project
