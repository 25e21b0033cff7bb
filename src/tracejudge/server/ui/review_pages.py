"""Review pages: the label panel, review queues (keyboard-driven) and the failure taxonomy.

- ``/projects/{p}/queues``: the project's queues with progress and a form that builds one
  from a span filter or a random sample;
- ``/projects/{p}/queues/{id}``: claims the next item for the reviewer and shows it;
  ``?trace=`` shows one item (j/k move through the queue, see static/review.js);
- ``/projects/{p}/taxonomy``: categories, notes, counts, rates and the saturation chart;
- ``/review/...``: the label panel (an htmx fragment the trace page includes) and its
  JSON autosave/undo endpoints, which review.js calls with the CSRF header.

The annotator is always the signed-in reviewer (:func:`current_user`); the store checks
every value before it writes, and its errors come back as 400/404 with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound, TraceNotFound
from tracejudge.model import Annotation, Category, ReviewQueue, Span, Trace
from tracejudge.query.paths import span_documents
from tracejudge.review.annotations import state_of
from tracejudge.review.taxonomy import SaturationPoint
from tracejudge.server.deps import StoreDep, TraceIdPath
from tracejudge.server.errors import status_for
from tracejudge.server.review_schemas import annotation_json
from tracejudge.server.routes.review import ReviewStoreDep
from tracejudge.server.ui.auth import CsrfChecked, UiSession, UiSessionDep
from tracejudge.server.ui.rich_text import markdown
from tracejudge.server.ui.span_view import span_messages
from tracejudge.server.ui.templating import render
from tracejudge.store.review import SQLiteReviewStore

__all__ = ["SaturationChart", "router", "saturation_chart"]

router = APIRouter(include_in_schema=False)

_Text = Annotated[str, Form()]
_OptionalText = Annotated[str | None, Form()]


def _trace_project(review: SQLiteReviewStore, session: UiSession, trace_id: str) -> str:
    """The project of a trace this session may see (404 otherwise)."""
    project = review.trace_project(trace_id)
    if project is None:
        raise TraceNotFound(f"no trace {trace_id!r}")
    return session.check_project(project)


def _queue_url(project: str, queue_id: str, **params: str) -> str:
    base = f"/projects/{quote(project, safe='')}/queues/{queue_id}"
    return base + ("?" + urlencode(params) if params else "")


# -- label panel --------------------------------------------------------------------------


def panel_context(
    review: SQLiteReviewStore,
    project: str,
    trace_id: str,
    user: str,
    spans: Sequence[Span],
    *,
    span_id: str | None = None,
    queue_id: str | None = None,
) -> dict[str, Any]:
    """What ``review/_panel_body.html`` needs for ``user``'s annotation of one key."""
    current = review.current(project, trace_ids=[trace_id])
    mine = next((a for a in current if a.annotator == user and a.span_id == span_id), None)
    others = [a for a in current if a.annotator != user and a.span_id == span_id]
    categories = review.categories(project)
    return {
        "panel_trace_id": trace_id,
        "panel_span_id": span_id,
        "panel_queue_id": queue_id,
        "panel_state": state_of(mine),
        "panel_record": mine,
        "panel_others": others,
        "panel_categories": categories,
        "panel_category_names": {c.id: c.name for c in categories},
        "panel_spans": [(s.span_id, f"{s.kind} · {s.name}") for s in spans],
        "panel_project": project,
    }


@router.get("/review/traces/{trace_id}/panel")
def label_panel(
    request: Request,
    trace_id: TraceIdPath,
    session: UiSessionDep,
    store: StoreDep,
    review: ReviewStoreDep,
    span_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{16}$")] = None,
    queue_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The label panel of a trace (or one of its spans) for the signed-in reviewer."""
    project = _trace_project(review, session, trace_id)
    spans = store.trace_spans(trace_id, project)
    context = panel_context(
        review, project, trace_id, session.user, spans, span_id=span_id, queue_id=queue_id
    )
    return render(request, "review/_panel_body.html", context)


def _json_error(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


@router.post("/review/annotate", dependencies=[CsrfChecked])
def save_annotation(
    session: UiSessionDep,
    review: ReviewStoreDep,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Autosave: the panel's whole state (label, note, failure modes) as a new record."""
    try:
        trace_id = str(body.get("trace_id") or "")
        project = _trace_project(review, session, trace_id)
        modes = body.get("failure_modes") or []
        if not isinstance(modes, list):
            raise ConfigurationError("failure_modes: must be a list")
        record = review.annotate(
            project,
            trace_id,
            session.user,
            span_id=body.get("span_id") or None,
            label=body.get("label"),
            note=body.get("note"),
            failure_modes=modes,
            queue_id=body.get("queue_id") or None,
        )
    except (ConfigurationError, NotFound) as e:
        return _json_error(e)
    return JSONResponse(_saved(review, record))


def _saved(review: SQLiteReviewStore, record: Annotation) -> dict[str, Any]:
    """The answer to a save or undo: the record, and the queue's progress when in one."""
    out: dict[str, Any] = {"annotation": annotation_json(record)}
    if record.queue_id is not None:
        out["progress"] = str(review.progress(record.queue_id, record.project))
    return out


@router.post("/review/undo", dependencies=[CsrfChecked])
def undo_annotation(
    session: UiSessionDep,
    review: ReviewStoreDep,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Undo the reviewer's last change of this key; answers the restored state."""
    try:
        trace_id = str(body.get("trace_id") or "")
        project = _trace_project(review, session, trace_id)
        record = review.undo(project, trace_id, session.user, span_id=body.get("span_id") or None)
    except (ConfigurationError, NotFound) as e:
        return _json_error(e)
    return JSONResponse(_saved(review, record))


# -- queues ------------------------------------------------------------------------------


def _queues_page(
    request: Request,
    project: str,
    review: SQLiteReviewStore,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    queues = review.queues(project)
    rows = [(q, review.progress(q.id)) for q in queues]
    context = {
        "project": project,
        "active": "queues",
        "rows": rows,
        "error": error,
        "form": form or {"mode": "sample", "size": "100", "unlabelled_only": True},
    }
    return render(request, "review/queues.html", context, status_code=status_code)


@router.get("/projects/{project}/queues")
def queues_page(
    request: Request, project: str, session: UiSessionDep, review: ReviewStoreDep
) -> Response:
    """The project's review queues and the form that builds one."""
    return _queues_page(request, session.check_project(project), review)


@router.post("/projects/{project}/queues", dependencies=[CsrfChecked])
def create_queue(
    request: Request,
    project: str,
    session: UiSessionDep,
    review: ReviewStoreDep,
    name: _Text,
    mode: _Text = "sample",
    filter: _OptionalText = None,
    size: _OptionalText = None,
    seed: _OptionalText = None,
    unlabelled_only: _OptionalText = None,
    include_judge_traces: _OptionalText = None,
) -> Response:
    """Build a queue (filter or sample) and go to its first item; errors re-show the form."""
    project = session.check_project(project)
    form = {
        "name": name,
        "mode": mode,
        "filter": filter or "",
        "size": size or "",
        "seed": seed or "",
        "unlabelled_only": bool(unlabelled_only),
        "include_judge_traces": bool(include_judge_traces),
    }
    try:
        count = _whole(size, "size") if size else None
        queue = review.create_queue(
            project,
            name,
            filter=(filter or None) if mode == "filter" else None,
            sample=count if mode == "sample" else None,
            limit=count or 100,
            seed=_whole(seed, "seed") if seed else None,
            unlabelled_only=bool(unlabelled_only),
            include_judge_traces=bool(include_judge_traces),
            created_by=session.user,
        )
    except (ConfigurationError, FilterSyntaxError) as e:
        return _queues_page(request, project, review, error=str(e), form=form, status_code=400)
    return RedirectResponse(_queue_url(project, queue.id), status_code=303)


def _whole(text: str, argument: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigurationError(f"{argument}: must be a whole number, not {text!r}") from None


@router.get("/projects/{project}/queues/{queue_id}")
def queue_page(
    request: Request,
    project: str,
    queue_id: str,
    session: UiSessionDep,
    store: StoreDep,
    review: ReviewStoreDep,
    trace: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One queue item (``?trace=``; a unique prefix of an item's id is enough), or, without
    ``trace``, the next unlabelled item nobody else holds (claimed for this reviewer)."""
    project = session.check_project(project)
    queue = review.queue(queue_id, project)
    if not trace:
        next_id = review.next_item(queue.id, session.user, project=project)
        if next_id is None:
            return _queue_item(request, queue, None, session, store, review)
        return RedirectResponse(_queue_url(project, queue.id, trace=next_id), status_code=303)
    wanted = trace.strip().lower()
    matches = [t for t in queue.items if t.startswith(wanted)] if wanted else []
    if len(matches) != 1:
        message = (
            f"no trace id starting with {trace!r} is in this queue"
            if not matches
            else f"{trace!r} starts {len(matches)} trace ids of this queue: type more of it"
        )
        return _queue_item(request, queue, None, session, store, review, error=message)
    if matches[0] != trace:
        return RedirectResponse(_queue_url(project, queue.id, trace=matches[0]), status_code=303)
    return _queue_item(request, queue, trace, session, store, review)


@dataclass(frozen=True, slots=True)
class _SpanLine:
    span: Span
    depth: int


def _queue_item(
    request: Request,
    queue: ReviewQueue,
    trace_id: str | None,
    session: UiSession,
    store: StoreDep,
    review: SQLiteReviewStore,
    *,
    error: str | None = None,
) -> Response:
    project = queue.project
    progress = review.progress(queue.id)
    context: dict[str, Any] = {
        "project": project,
        "active": "queues",
        "queue": queue,
        "progress": progress,
        "error": error,
        "trace_id": trace_id,
        "queue_url": _queue_url(project, queue.id),
    }
    if trace_id is not None:
        spans = store.trace_spans(trace_id, project)
        if not spans:
            raise TraceNotFound(f"trace {trace_id} of this queue is not stored")
        tree = Trace(trace_id, tuple(spans))
        root = tree.root or tree.roots[0]
        position = queue.items.index(trace_id)
        labels = review.latest_labels(project, [trace_id]).get(trace_id, [])
        context.update(
            {
                "position": position,
                "prev_url": _queue_url(project, queue.id, trace=queue.items[position - 1])
                if position > 0
                else None,
                "next_url": _queue_url(project, queue.id, trace=queue.items[position + 1])
                if position + 1 < len(queue.items)
                else None,
                "root": root,
                "input_html": markdown(root.input),
                "output_html": markdown(root.output),
                "lines": [_SpanLine(s, d) for d, s in tree.walk()],
                "documents": [(s, docs) for s in spans if (docs := span_documents(s))],
                "last_call": _last_call(spans),
                "evaluations": store.evaluations(trace_id=trace_id),
                "labels": labels,
                **panel_context(review, project, trace_id, session.user, spans, queue_id=queue.id),
            }
        )
    return render(request, "review/queue.html", context, status_code=404 if error else 200)


@dataclass(frozen=True, slots=True)
class _Bubble:
    role: str
    html: Any  # markupsafe.Markup from rich_text.markdown (escaped user content)
    tools: tuple[str, ...]  # "name(arguments)" of the calls the model asked for


def _last_call(spans: Sequence[Span]) -> tuple[Span, list[_Bubble]] | None:
    """The last LLM call of the trace as chat bubbles: what the model saw and answered."""
    llm = [s for s in spans if s.kind == "LLM"]
    if not llm:
        return None
    span = max(llm, key=lambda s: (s.end_ns, s.start_ns))
    inputs, outputs = span_messages(span)
    bubbles = [
        _Bubble(
            m.role,
            markdown(m.content),
            tuple(
                f"{c.name}({c.arguments if c.arguments is not None else ''})" for c in m.tool_calls
            ),
        )
        for m in (*inputs, *outputs)
    ]
    return (span, bubbles) if bubbles else None


# -- taxonomy ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaturationChart:
    """Inline-SVG geometry of the saturation trend (distinct categories vs reviewed)."""

    width: int
    height: int
    points: str  # polyline "x,y x,y ..."
    dots: tuple[tuple[float, float, SaturationPoint], ...]
    max_reviewed: int
    max_distinct: int


def saturation_chart(
    series: Sequence[SaturationPoint], *, width: int = 520, height: int = 180, pad: int = 28
) -> SaturationChart | None:
    """Scale the series into an SVG box (None for an empty series)."""
    if not series:
        return None
    max_x = max(p.reviewed for p in series)
    max_y = max(max(p.distinct for p in series), 1)
    dots = []
    for p in (SaturationPoint(0, 0, 0), *series):
        x = pad + (width - 2 * pad) * p.reviewed / max_x
        y = height - pad - (height - 2 * pad) * p.distinct / max_y
        dots.append((round(x, 1), round(y, 1), p))
    points = " ".join(f"{x},{y}" for x, y, _ in dots)
    return SaturationChart(width, height, points, tuple(dots[1:]), max_x, max_y)


def _taxonomy_page(
    request: Request,
    project: str,
    review: SQLiteReviewStore,
    *,
    error: str | None = None,
    status_code: int = 200,
    step: int | None = None,
) -> Response:
    taxonomy = review.taxonomy(project, step=step)
    categories: list[Category] = review.categories(project)
    context = {
        "project": project,
        "active": "taxonomy",
        "taxonomy": taxonomy,
        "categories": categories,
        "names": {c.id: c.name for c in categories},
        "chart": saturation_chart(taxonomy.saturation),
        "step": taxonomy.step,
        "error": error,
    }
    return render(request, "review/taxonomy.html", context, status_code=status_code)


@router.get("/projects/{project}/taxonomy")
def taxonomy_page(
    request: Request,
    project: str,
    session: UiSessionDep,
    review: ReviewStoreDep,
    step: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """Notes, categories, counts and rates, and the saturation trend."""
    return _taxonomy_page(request, session.check_project(project), review, step=step)


@router.post("/projects/{project}/categories", dependencies=[CsrfChecked])
def create_category(
    request: Request,
    project: str,
    session: UiSessionDep,
    review: ReviewStoreDep,
    name: _Text,
    definition: _Text,
) -> Response:
    project = session.check_project(project)
    try:
        review.create_category(project, name, definition, created_by=session.user)
    except ConfigurationError as e:
        return _taxonomy_page(request, project, review, error=str(e), status_code=400)
    return RedirectResponse(f"/projects/{quote(project, safe='')}/taxonomy", status_code=303)


@router.post("/projects/{project}/taxonomy/assign", dependencies=[CsrfChecked])
def assign_category(
    request: Request,
    project: str,
    session: UiSessionDep,
    review: ReviewStoreDep,
    annotation_id: _Text,
    category: _Text,
    remove: _OptionalText = None,
) -> Response:
    """Put a note's trace into a category (or take it out)."""
    project = session.check_project(project)
    try:
        record: Annotation = review.assign(
            project, annotation_id, category, author=session.user, remove=bool(remove)
        )
    except (ConfigurationError, NotFound) as e:
        return _taxonomy_page(request, project, review, error=str(e), status_code=400)
    target = f"/projects/{quote(project, safe='')}/taxonomy#note-{record.trace_id}"
    return RedirectResponse(target, status_code=303)
