"""``/api/v1/spans``: spans in ingest order (a cursor for incremental readers) and by id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tracejudge.errors import SpanNotFound
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
from tracejudge.server.schemas import ERROR_RESPONSES, SpanPublic, SpansPublic

__all__ = ["router"]

router = APIRouter(prefix="/spans", tags=["spans"], responses=ERROR_RESPONSES)


@router.get("", response_model=SpansPublic)
def list_spans(
    store: StoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    kind: SpanKind | None = None,
    trace_id: TraceIdQuery = None,
    limit: LimitQuery = 100,
    after_seq: AfterSeqQuery = None,
) -> dict[str, Any]:
    """Spans filtered by project, kind and trace, oldest ingested first.

    Page on with ``after_seq=next_after_seq``; it is null on the last page.
    """
    rows = store.list_spans(
        principal.scope(project),
        kind=kind.value if kind else None,
        trace_id=trace_id,
        limit=limit,
        after_seq=after_seq,
    )
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
