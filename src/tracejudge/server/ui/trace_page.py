"""``/traces/{trace_id}``: the span tree with a timeline beside the selected span's detail.

The tree is rendered once per page (flat rows with a depth, built by the iterative
:meth:`Trace.walk`, so a 1,000-span or 10,000-deep trace costs no recursion); clicking a
row fetches only that span's detail (``/traces/{trace_id}/spans/{span_id}``, an htmx swap
that also pushes ``?span=`` into the URL so the view can be shared).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tracejudge.errors import NotFound, TraceNotFound
from tracejudge.evals.judge.tracing import TARGET_SPAN_ID
from tracejudge.model import Evaluation, Span, Trace
from tracejudge.query.paths import span_documents, span_tool_calls
from tracejudge.semconv import TJ_EVALUATOR
from tracejudge.server.deps import SpanIdPath, StoreDep, TraceIdPath
from tracejudge.server.ui.auth import UiSession, UiSessionDep
from tracejudge.server.ui.rich_text import json_tree, markdown, parse_json
from tracejudge.server.ui.span_view import exceptions, link_tool_calls, span_messages
from tracejudge.server.ui.templating import render
from tracejudge.server.ui.trace_list import eval_chips, verdict_of
from tracejudge.store.base import Store
from tracejudge.store.sqlite import SQLiteStore

__all__ = ["TreeRow", "judge_traces", "router", "tree_rows"]

router = APIRouter(include_in_schema=False)

_JUDGE_WINDOW_NS = 600 * 10**9  # judge spans are looked for this long before an evaluation


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One row of the span tree: the span, its depth and where its bar sits (percent)."""

    span: Span
    depth: int
    has_children: bool
    offset_pct: float
    width_pct: float


def _walk_all(trace: Trace) -> list[tuple[int, Span]]:
    """``Trace.walk()`` plus, at depth 0, spans it cannot reach (parent links in a cycle)."""
    walked = list(trace.walk())
    seen = {s.span_id for _, s in walked}
    stranded = sorted((s for s in trace.spans if s.span_id not in seen), key=_start_order)
    return walked + [(0, s) for s in stranded]


def _start_order(span: Span) -> tuple[int, str]:
    return span.start_ns, span.span_id


def tree_rows(trace: Trace) -> list[TreeRow]:
    """The tree depth-first in start order, with timeline bars relative to the trace."""
    start = min(s.start_ns for s in trace.spans)
    end = max(s.end_ns for s in trace.spans)
    total = max(end - start, 1)
    return [
        TreeRow(
            span=s,
            depth=depth,
            has_children=bool(trace.children(s)),
            offset_pct=round(100 * (s.start_ns - start) / total, 3),
            width_pct=round(max(100 * (s.end_ns - s.start_ns) / total, 0.2), 3),
        )
        for depth, s in _walk_all(trace)
    ]


def judge_traces(store: Store, span: Span, evaluations: list[Evaluation]) -> dict[str, str]:
    """Evaluation id -> trace id of the judge's own EVALUATOR span, where one was recorded.

    EVALUATOR spans root their own trace and name the span they judged in
    ``tracejudge.evaluation.target.span_id``; they are found through the
    ``(project, kind, start_ns)`` index in a window before each evaluation was recorded.
    """
    judged = [e for e in evaluations if e.evaluator]
    if not judged or not isinstance(store, SQLiteStore):
        return {}
    low = min(e.created_at_ns for e in judged) - _JUDGE_WINDOW_NS
    high = max(e.created_at_ns for e in judged) + 60 * 10**9
    rows = store.query(
        "SELECT trace_id, json_extract(attributes, ?), start_ns FROM spans"
        " WHERE project = ? AND kind = 'EVALUATOR' AND start_ns BETWEEN ? AND ?"
        " AND json_extract(attributes, ?) = ? ORDER BY start_ns",
        [f'$."{TJ_EVALUATOR}"', span.project, low, high, f'$."{TARGET_SPAN_ID}"', span.span_id],
    )
    found: dict[str, str] = {}
    for e in judged:
        # The latest judge span of this evaluator that started before it was recorded.
        match = [t for t, ev, start in rows if ev == e.evaluator and start <= e.created_at_ns]
        if match:
            found[e.id] = match[-1]
    return found


def _load(store: Store, session: UiSession, trace_id: str) -> Trace:
    spans = store.trace_spans(trace_id, session.project)
    if not spans:
        raise TraceNotFound(f"no trace {trace_id}")
    return Trace(trace_id, tuple(spans))


def _io(value: str | None) -> dict[str, Any] | None:
    """An input/output value to show: a JSON tree when it is JSON, else markdown."""
    if value is None or value == "":
        return None
    parsed = parse_json(value)
    if parsed is not None:
        return {"json": json_tree(parsed)}
    return {"markdown": markdown(value)}


def _detail(store: Store, trace: Trace, span: Span, all_evals: list[Evaluation]) -> dict[str, Any]:
    """Everything the detail pane shows for ``span``."""
    inputs, outputs = span_messages(span)
    evaluations = [e for e in all_evals if e.span_id == span.span_id]
    links = link_tool_calls(trace.spans)
    calls = span_tool_calls(span)
    requested_by = links.requested_by.get(span.span_id)
    return {
        "span": span,
        "input_messages": inputs,
        "output_messages": outputs,
        "documents": span_documents(span),
        "tool_calls": calls,
        "ran_by": {i: links.ran_by.get((span.span_id, i)) for i in range(len(calls))},
        "call_targets": {
            c["id"]: links.ran_by[(span.span_id, i)]
            for i, c in enumerate(calls)
            if c.get("id") and (span.span_id, i) in links.ran_by
        },
        "requested_by": requested_by,
        "requester": trace.span(requested_by[0]) if requested_by else None,
        "exceptions": exceptions(span),
        "evaluations": evaluations,
        "verdicts": {e.id: verdict_of(e) for e in evaluations},
        "judge_traces": judge_traces(store, span, evaluations),
        "io_input": None if inputs else _io(span.input),
        "io_output": None if outputs else _io(span.output),
        "attributes_tree": json_tree(span.attributes, open_depth=1),
        "events_tree": json_tree(span.events, open_depth=2),
        "resource_tree": json_tree(span.resource, open_depth=1),
        "links_tree": json_tree(span.links, open_depth=1),
        "scope_tree": json_tree(span.scope, open_depth=1),
        "markdown": markdown,
        "json_tree": json_tree,
        "parse_json": parse_json,
    }


def _pick(trace: Trace, span_id: str | None) -> Span:
    if span_id:
        try:
            return trace.span(span_id)
        except KeyError:
            raise NotFound(f"no span {span_id} in trace {trace.trace_id}") from None
    roots = trace.roots
    return roots[0] if roots else min(trace.spans, key=_start_order)


@router.get("/traces/{trace_id}")
def trace_page(
    request: Request,
    trace_id: TraceIdPath,
    session: UiSessionDep,
    store: StoreDep,
    span: str | None = None,
) -> Response:
    """The whole trace: tree + timeline, the selected (default: root) span's detail."""
    trace = _load(store, session, trace_id)
    selected = _pick(trace, span)
    evaluations = store.evaluations(trace_id=trace_id)
    by_span: dict[str, list[Evaluation]] = {}
    for e in evaluations:
        by_span.setdefault(e.span_id, []).append(e)
    root = trace.root or (trace.roots or [selected])[0]
    context = {
        "project": root.project,
        "active": "traces",
        "trace": trace,
        "root": root,
        "rows": tree_rows(trace),
        "span_chips": {sid: eval_chips(es) for sid, es in by_span.items()},
        "trace_start_ns": min(s.start_ns for s in trace.spans),
        "trace_ms": (max(s.end_ns for s in trace.spans) - min(s.start_ns for s in trace.spans))
        / 1e6,
        "tokens": sum((s.prompt_tokens or 0) + (s.completion_tokens or 0) for s in trace.spans),
        "errors": sum(1 for s in trace.spans if s.status == "ERROR"),
        "selected_id": selected.span_id,
        **_detail(store, trace, selected, evaluations),
    }
    return render(request, "trace.html", context)


@router.get("/traces/{trace_id}/spans/{span_id}")
def span_detail(
    request: Request,
    trace_id: TraceIdPath,
    span_id: SpanIdPath,
    session: UiSessionDep,
    store: StoreDep,
) -> Response:
    """The detail pane of one span (htmx); a plain visit goes to the full page."""
    if not request.headers.get("HX-Request"):
        return RedirectResponse(f"/traces/{trace_id}?span={span_id}", status_code=303)
    trace = _load(store, session, trace_id)
    selected = _pick(trace, span_id)
    context = {
        "project": selected.project,
        "trace": trace,
        **_detail(store, trace, selected, store.evaluations(trace_id=trace_id)),
    }
    return render(request, "_span_detail.html", context)
