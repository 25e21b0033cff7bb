"""``/api/v1/traces``: the trace list (newest first) and one trace as a tree of spans."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Response

from tracejudge.errors import TraceNotFound
from tracejudge.model import Evaluation, Trace
from tracejudge.remote import evaluation_to_json, span_to_json, summary_to_json
from tracejudge.server.deps import (
    BeforeQuery,
    CurrentPrincipal,
    LimitQuery,
    ProjectQuery,
    StoreDep,
    TraceIdPath,
)
from tracejudge.server.errors import ApiError
from tracejudge.server.schemas import ERROR_RESPONSES, TracePublic, TracesPublic

__all__ = ["router", "trace_tree"]

router = APIRouter(prefix="/traces", tags=["traces"], responses=ERROR_RESPONSES)


@router.get("", response_model=TracesPublic)
def list_traces(
    store: StoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    limit: LimitQuery = 50,
    before: BeforeQuery = None,
) -> dict[str, Any]:
    """Traces of a project, newest start first, with the preview fields of ``Client.traces``.

    Page on with ``before=next_before``; ``next_before`` is null on the last page.
    """
    scope = principal.scope(project)
    if scope is None:
        raise ApiError(400, "project is required")
    rows = store.list_traces(scope, limit=limit, before=before)
    return {
        "data": [summary_to_json(r) for r in rows],
        "count": len(rows),
        "next_before": rows[-1].start_ns if len(rows) == limit else None,
    }


def trace_tree(trace: Trace, evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    """The trace's roots as nested JSON nodes (span fields + evaluations + children).

    Built without recursion so a 10,000-deep chain of spans is no problem.
    """
    by_span: dict[str, list[dict[str, Any]]] = {}
    for ev in evaluations:
        by_span.setdefault(ev.span_id, []).append(evaluation_to_json(ev))
    nodes = {
        s.span_id: {**span_to_json(s), "evaluations": by_span.get(s.span_id, []), "children": []}
        for s in trace.spans
    }
    for s in trace.spans:
        nodes[s.span_id]["children"] = [nodes[c.span_id] for c in trace.children(s)]
    return [nodes[r.span_id] for r in trace.roots]


@router.get("/{trace_id}", response_model=TracePublic)
def get_trace(
    trace_id: TraceIdPath,
    store: StoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
) -> Response:
    """All spans of one trace as a tree, each with its evaluations; 404 if not in scope."""
    scope = principal.scope(project)
    spans = store.trace_spans(trace_id, scope)
    if not spans:
        raise TraceNotFound(f"no trace {trace_id}" + (f" in project {scope!r}" if scope else ""))
    span_ids = {s.span_id for s in spans}
    evaluations = [e for e in store.evaluations(trace_id=trace_id) if e.span_id in span_ids]
    body = {
        "trace_id": trace_id,
        "project": scope or spans[0].project,
        "span_count": len(spans),
        "roots": trace_tree(Trace(trace_id, tuple(spans)), evaluations),
    }
    # Serialized directly: a deep tree would only slow down (or trip) response validation.
    return Response(orjson.dumps(body), media_type="application/json")
