"""Pydantic shapes of the REST API, split by purpose (``XCreate``, ``XPublic``, ``XsPublic``).

They document the API (OpenAPI) and validate what goes in and out. The records are
built from the canonical dataclasses by the ``*_to_json`` helpers in
:mod:`tracejudge.remote`, which the Python remote client reads back.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ERROR_RESPONSES",
    "ErrorPublic",
    "EvaluationCreate",
    "EvaluationPublic",
    "EvaluationsPublic",
    "HealthPublic",
    "ProjectPublic",
    "ProjectsPublic",
    "SpanNode",
    "SpanPublic",
    "SpansPublic",
    "TracePublic",
    "TraceSummaryPublic",
    "TracesPublic",
]

HEX16 = r"^[0-9a-f]{16}$"
HEX32 = r"^[0-9a-f]{32}$"


class ErrorPublic(BaseModel):
    """Every error answer of the REST API."""

    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": text}
    for status, text in (
        (400, "Bad request: the message says what to fix"),
        (401, "Missing, unknown or revoked API key"),
        (403, "The API key belongs to another project"),
        (404, "No such record in the caller's project"),
        (503, "The server is busy or the database is locked; retry after Retry-After"),
    )
}
"""Documented on every authenticated route (422 is added by FastAPI itself)."""


class HealthPublic(BaseModel):
    status: str = Field(description="'ok' while the server accepts requests")
    queued: int = Field(description="spans accepted but not yet committed")


class ProjectPublic(BaseModel):
    name: str


class ProjectsPublic(BaseModel):
    data: list[ProjectPublic]
    count: int


class EvaluationPublic(BaseModel):
    """A stored evaluation (see ``tracejudge.model.Evaluation``)."""

    id: str
    trace_id: str
    span_id: str
    project: str
    name: str
    score: float | None
    label: str | None
    explanation: str | None
    evaluator: str | None
    source: str
    task_id: str | None
    judge_model: str | None
    latency_ms: float | None
    error: str | None
    created_at_ns: int


class EvaluationsPublic(BaseModel):
    data: list[EvaluationPublic]
    count: int


class EvaluationCreate(BaseModel):
    """An evaluation to attach to a stored span; it needs a score, a label or both."""

    model_config = ConfigDict(
        extra="forbid",
        # The "score or label" rule below, stated in the schema too so clients see it.
        json_schema_extra={
            "anyOf": [
                {"required": ["score"], "properties": {"score": {"type": "number"}}},
                {"required": ["label"], "properties": {"label": {"type": "string"}}},
            ]
        },
    )

    span_id: str = Field(pattern=HEX16, description="16 lowercase hex characters")
    name: str = Field(min_length=1, max_length=200)
    score: float | None = None
    label: str | None = Field(default=None, max_length=200)
    explanation: str | None = None
    evaluator: str | None = Field(default=None, max_length=200, description="'name@version'")
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="optional client-chosen id; re-posting the same id is a no-op",
    )

    @model_validator(mode="after")
    def _score_or_label(self) -> EvaluationCreate:
        if self.score is None and self.label is None:
            raise ValueError("an evaluation needs a score, a label or both")
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError("score must be a finite number")
        return self


class SpanPublic(BaseModel):
    """A canonical span: raw attributes/events/links/resource/scope plus derived fields."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    project: str
    name: str
    kind: str
    otel_kind: str
    status: str
    status_message: str | None
    start_ns: int
    end_ns: int
    latency_ms: float
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    resource: dict[str, Any]
    scope: dict[str, Any]
    input: str | None
    output: str | None
    model: str | None
    provider: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    session_id: str | None
    user_id: str | None
    tags: list[str]
    content_hash: str
    ingest_seq: int | None
    ingested_at_ns: int | None


class SpansPublic(BaseModel):
    data: list[SpanPublic]
    count: int
    next_after_seq: int | None = Field(description="pass as after_seq for the next page")


class SpanNode(SpanPublic):
    """A span in a trace tree, with its evaluations and children in start order."""

    evaluations: list[EvaluationPublic]
    children: list[SpanNode]


class TracePublic(BaseModel):
    trace_id: str
    project: str
    span_count: int
    roots: list[SpanNode] = Field(
        description="the root span first, then spans whose parent has not arrived (orphans)"
    )


class TraceSummaryPublic(BaseModel):
    """One row of the trace list (the same fields as ``Client.traces``)."""

    trace_id: str
    project: str
    root_span_id: str | None
    name: str | None
    input_preview: str | None
    output_preview: str | None
    start_ns: int
    end_ns: int
    latency_ms: float
    status: str
    span_count: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TracesPublic(BaseModel):
    data: list[TraceSummaryPublic]
    count: int
    next_before: int | None = Field(description="pass as before for the next (older) page")
