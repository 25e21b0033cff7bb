"""Evaluations: attach one to a span (``POST /evaluations``); list those of a span
(``GET /spans/{span_id}/evaluations``) or of a whole trace
(``GET /traces/{trace_id}/evaluations``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from tracejudge.errors import SpanNotFound
from tracejudge.model import Evaluation, EvaluationSource
from tracejudge.remote import evaluation_to_json
from tracejudge.server.auth import Principal
from tracejudge.server.deps import (
    CurrentPrincipal,
    IngestQueueDep,
    SettingsDep,
    SpanIdPath,
    StoreDep,
    TraceIdPath,
)
from tracejudge.server.errors import ApiError
from tracejudge.server.schemas import (
    ERROR_RESPONSES,
    EvaluationCreate,
    EvaluationPublic,
    EvaluationsPublic,
)
from tracejudge.server.writes import write_durably
from tracejudge.store.base import Store

__all__ = ["router"]

router = APIRouter(
    tags=["evaluations"],
    responses={**ERROR_RESPONSES, 409: {"description": "The id is taken by another evaluation"}},
)


def _in_scope(store: Store, principal: Principal, **where: str) -> list[Evaluation]:
    """Evaluations matching ``where`` (span_id or trace_id), limited to the caller's project."""
    found = store.evaluations(**where)
    return [e for e in found if principal.project in (None, e.project)]


def _page(rows: list[Evaluation]) -> dict[str, Any]:
    return {"data": [evaluation_to_json(e) for e in rows], "count": len(rows)}


@router.get("/spans/{span_id}/evaluations", response_model=EvaluationsPublic)
def span_evaluations(
    span_id: SpanIdPath, store: StoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Evaluations of one span, oldest first (empty if the span is not in scope)."""
    return _page(_in_scope(store, principal, span_id=span_id))


@router.get("/traces/{trace_id}/evaluations", response_model=EvaluationsPublic)
def trace_evaluations(
    trace_id: TraceIdPath, store: StoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Evaluations of every span of a trace, oldest first (empty if not in scope)."""
    return _page(_in_scope(store, principal, trace_id=trace_id))


@router.post("/evaluations", response_model=EvaluationPublic, status_code=201)
async def create_evaluation(
    body: EvaluationCreate,
    store: StoreDep,
    queue: IngestQueueDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Attach an evaluation to a stored span; answers once it is committed.

    Re-posting the same ``id`` is a no-op that returns the stored evaluation.
    """
    span = await run_in_threadpool(store.span, body.span_id, principal.project)
    if span is None:
        raise SpanNotFound(f"no span {body.span_id} in scope")
    evaluation = Evaluation(
        id=body.id or uuid.uuid4().hex,
        trace_id=span.trace_id,
        span_id=span.span_id,
        project=span.project,
        name=body.name,
        score=body.score,
        label=body.label,
        explanation=body.explanation,
        evaluator=body.evaluator,
        source=EvaluationSource.IMPORT,
        created_at_ns=time.time_ns(),
    )
    await write_durably(queue, settings, (), (evaluation,))
    # Read back: an existing id was kept rather than overwritten (append-only).
    stored = await run_in_threadpool(_in_scope, store, principal, span_id=span.span_id)
    match = next((e for e in stored if e.id == evaluation.id), None)
    if match is None:
        raise ApiError(409, f"evaluation id {evaluation.id!r} is already used elsewhere")
    return evaluation_to_json(match)
