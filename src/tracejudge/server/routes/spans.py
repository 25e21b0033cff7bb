"""``/api/v1/spans``: spans in ingest order (a cursor for incremental readers) and by id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tracejudge.errors import FilterSyntaxError, SpanNotFound
from tracejudge.model import SpanKind
from tracejudge.remote import span_to_json
from tracejudge.server.deps import (
    AfterSeqQuery,
    CurrentPrincipal,
    LimitQuery,
    ProjectQuery,
    SpanIdPath,
    StoreDep,
    TraceIdQuery,
)
from tracejudge.server.errors import error_body, status_for
from tracejudge.server.schemas import ERROR_RESPONSES, SpanPublic, SpansPublic

__all__ = ["router"]

router = APIRouter(prefix="/spans", tags=["spans"], responses=ERROR_RESPONSES)


class FilterErrorPublic(BaseModel):
    """A 400 of the span list: ``position`` (1-based) is set when the filter is at fault."""

    detail: str
    position: int | None = None


FilterQuery = Annotated[
    str | None,
    Query(
        description=(
            "A span filter expression, e.g. "
            '`kind == "LLM" and latency_ms > 2000 and not has_eval("groundedness")`. '
            "It narrows the other conditions (never the key's project scope); "
            "a bad one is a 400 whose body names the `position`."
        ),
        examples=['kind == "LLM" and latency_ms > 2000'],
    ),
]


@router.get(
    "",
    response_model=SpansPublic,
    responses={400: {"model": FilterErrorPublic, "description": "Bad filter or argument"}},
)
def list_spans(
    store: StoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    kind: SpanKind | None = None,
    trace_id: TraceIdQuery = None,
    limit: LimitQuery = 100,
    after_seq: AfterSeqQuery = None,
    filter: FilterQuery = None,
) -> Any:
    """Spans filtered by project, kind, trace and a filter expression, oldest ingested first.

    Page on with ``after_seq=next_after_seq``; it is null on the last page.
    """
    try:
        rows = store.list_spans(
            principal.scope(project),
            kind=kind.value if kind else None,
            trace_id=trace_id,
            limit=limit,
            after_seq=after_seq,
            filter=filter,
        )
    except FilterSyntaxError as e:
        # Answered here rather than by the app-wide handler, whose body is only "detail".
        return JSONResponse(error_body(e), status_code=status_for(e))
    return {
        "data": [span_to_json(s) for s in rows],
        "count": len(rows),
        "next_after_seq": rows[-1].ingest_seq if len(rows) == limit else None,
    }


@router.get("/{span_id}", response_model=SpanPublic)
def get_span(
    span_id: SpanIdPath,
    store: StoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
) -> dict[str, Any]:
    """One span by id; 404 if it is not in the caller's project."""
    scope = principal.scope(project)
    span = store.span(span_id, scope)
    if span is None:
        raise SpanNotFound(f"no span {span_id}" + (f" in project {scope!r}" if scope else ""))
    return span_to_json(span)
