"""Human review over REST: annotations, review queues, failure categories and taxonomy.

Scoped like every route: a key sees only its project, and its annotator is the key's name
(or prefix). On a server without keys the caller names the annotator (and, where there is
no trace to infer it from, the project). Bad input answers 400 naming the field, and
nothing is written (the store validates before its one write transaction).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from tracejudge.errors import ConfigurationError, FilterSyntaxError, TraceNotFound
from tracejudge.model import ReviewQueue
from tracejudge.server.auth import Principal
from tracejudge.server.deps import CurrentPrincipal, ProjectQuery, TraceIdPath
from tracejudge.server.errors import ApiError, error_body, status_for
from tracejudge.server.review_schemas import (
    AnnotationCreate,
    AnnotationPublic,
    AnnotationsPublic,
    AnnotationUndo,
    AssignCreate,
    CategoriesPublic,
    CategoryCreate,
    CategoryPublic,
    NextItemPublic,
    NextItemRequest,
    QueueCreate,
    QueuePublic,
    QueuesPublic,
    TaxonomyPublic,
    annotation_json,
    category_json,
    progress_json,
    queue_json,
    taxonomy_json,
)
from tracejudge.server.schemas import ERROR_RESPONSES
from tracejudge.store.review import SQLiteReviewStore

__all__ = ["ReviewStoreDep", "review_store", "router"]

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)


def review_store(request: Request) -> SQLiteReviewStore:
    """The app's review store: the review tables of the store's own SQLite file."""
    state = request.app.state
    review = getattr(state, "review_store", None)
    if review is None:
        path = getattr(state.store, "path", None)
        if path is None:
            raise ConfigurationError("review needs a store with a file path")
        review = state.review_store = SQLiteReviewStore(path)
    return review  # type: ignore[no-any-return]


ReviewStoreDep = Annotated[SQLiteReviewStore, Depends(review_store)]
QueueIdPath = Annotated[str, Path(min_length=1, max_length=64)]


def _annotator(principal: Principal, given: str | None) -> str:
    """The key's reviewer name; on an open server the one the caller gives."""
    if principal.key is not None:
        own = principal.key.name or principal.key.prefix
        if given is not None and given != own:
            raise ApiError(403, f"this API key annotates as {own!r}, not {given!r}")
        return own
    if not given:
        raise ConfigurationError("annotator: required on a server without API keys")
    return given


def _project(principal: Principal, requested: str | None) -> str:
    project = principal.scope(requested)
    if not project:
        raise ConfigurationError("project: required on a server without API keys")
    return project


def _trace_project(review: SQLiteReviewStore, principal: Principal, trace_id: str) -> str:
    """The project of a stored trace the caller may see (404 otherwise)."""
    project = review.trace_project(trace_id)
    if project is None or principal.project not in (None, project):
        raise TraceNotFound(f"no trace {trace_id!r} in scope")
    return project


def _page(rows: list[Any], to_json: Any) -> dict[str, Any]:
    return {"data": [to_json(r) for r in rows], "count": len(rows)}


@router.post("/annotations", response_model=AnnotationPublic, status_code=201)
def create_annotation(
    body: AnnotationCreate, review: ReviewStoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Save the caller's current label, note and failure modes of a trace or span.

    The body is the whole new state (an append-only record; re-sending the current state
    writes nothing). Failure modes are category ids or names of the trace's project.
    """
    annotator = _annotator(principal, body.annotator)
    project = _trace_project(review, principal, body.trace_id)
    record = review.annotate(
        project,
        body.trace_id,
        annotator,
        span_id=body.span_id,
        label=body.label,
        note=body.note,
        failure_modes=body.failure_modes,
        queue_id=body.queue_id,
    )
    return annotation_json(record)


@router.post("/annotations/undo", response_model=AnnotationPublic, status_code=201)
def undo_annotation(
    body: AnnotationUndo, review: ReviewStoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Restore the state before the caller's last change of this trace/span (400 if none)."""
    annotator = _annotator(principal, body.annotator)
    project = _trace_project(review, principal, body.trace_id)
    return annotation_json(review.undo(project, body.trace_id, annotator, span_id=body.span_id))


@router.post(
    "/annotations/{annotation_id}/categories", response_model=AnnotationPublic, status_code=201
)
def assign_category(
    annotation_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: AssignCreate,
    review: ReviewStoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
) -> dict[str, Any]:
    """Add (or remove) a failure category on an annotation's key (axial coding)."""
    author = _annotator(principal, body.author)
    scope = _project(principal, project)
    record = review.assign(scope, annotation_id, body.category, author=author, remove=body.remove)
    return annotation_json(record)


@router.get("/traces/{trace_id}/annotations", response_model=AnnotationsPublic)
def trace_annotations(
    trace_id: TraceIdPath,
    review: ReviewStoreDep,
    principal: CurrentPrincipal,
    history: Annotated[bool, Query(description="every record, not only current")] = False,
) -> dict[str, Any]:
    """Current annotations of a trace (latest per annotator and span), or its full history."""
    project = _trace_project(review, principal, trace_id)
    if history:
        return _page(review.history(project, trace_id), annotation_json)
    return _page(review.current(project, trace_ids=[trace_id]), annotation_json)


@router.get("/annotations", response_model=AnnotationsPublic)
def list_annotations(
    review: ReviewStoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    annotator: Annotated[str | None, Query(min_length=1)] = None,
) -> dict[str, Any]:
    """Current annotations of a project, oldest first."""
    scope = _project(principal, project)
    return _page(review.current(scope, annotator=annotator), annotation_json)


@router.post("/queues", response_model=QueuePublic, status_code=201)
def create_queue(body: QueueCreate, review: ReviewStoreDep, principal: CurrentPrincipal) -> Any:
    """Build a review queue from a span filter and/or a random sample.

    A bad filter answers 400 with its 1-based ``position``, like ``GET /spans``.
    """
    project = _project(principal, body.project)
    try:
        queue = _build_queue(review, principal, project, body)
    except FilterSyntaxError as e:
        return JSONResponse(error_body(e), status_code=status_for(e))
    return queue_json(queue, review.progress(queue.id))


def _build_queue(
    review: SQLiteReviewStore, principal: Principal, project: str, body: QueueCreate
) -> ReviewQueue:
    return review.create_queue(
        project,
        body.name,
        filter=body.filter,
        sample=body.sample,
        seed=body.seed,
        unlabelled_only=body.unlabelled_only,
        include_judge_traces=body.include_judge_traces,
        limit=body.limit,
        created_by=principal.key.name if principal.key else None,
    )


@router.get("/queues", response_model=QueuesPublic)
def list_queues(
    review: ReviewStoreDep, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    """The project's review queues, newest first, with their progress."""
    scope = _project(principal, project)
    return _page(review.queues(scope), lambda q: queue_json(q, review.progress(q.id)))


@router.get("/queues/{queue_id}", response_model=QueuePublic)
def get_queue(
    queue_id: QueueIdPath, review: ReviewStoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    queue = review.queue(queue_id, principal.project)
    return queue_json(queue, review.progress(queue.id))


@router.post("/queues/{queue_id}/next", response_model=NextItemPublic)
def next_item(
    queue_id: QueueIdPath,
    body: NextItemRequest,
    review: ReviewStoreDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Claim the next trace for the caller: never one labelled or held by someone else."""
    annotator = _annotator(principal, body.annotator)
    trace_id = review.next_item(queue_id, annotator, project=principal.project)
    return {"trace_id": trace_id, "progress": progress_json(review.progress(queue_id))}


@router.get("/categories", response_model=CategoriesPublic)
def list_categories(
    review: ReviewStoreDep, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    return _page(review.categories(_project(principal, project)), category_json)


@router.post("/categories", response_model=CategoryPublic, status_code=201)
def create_category(
    body: CategoryCreate, review: ReviewStoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Define a failure category (name unique per project, case-insensitively)."""
    project = _project(principal, body.project)
    created_by = principal.key.name if principal.key else None
    category = review.create_category(project, body.name, body.definition, created_by=created_by)
    return category_json(category)


@router.get("/taxonomy", response_model=TaxonomyPublic)
def taxonomy(
    review: ReviewStoreDep,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    step: Annotated[int | None, Query(ge=1, le=10_000, description="default: ~10 points")] = None,
) -> dict[str, Any]:
    """Counts and rates per category, the notes, and the saturation trend."""
    return taxonomy_json(review.taxonomy(_project(principal, project), step=step))
