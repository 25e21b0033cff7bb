"""Pydantic shapes of the review REST API (annotations, queues, categories, taxonomy).

Bodies only check types and shapes; the rules (labels, known categories, a stored trace,
a valid filter) are checked by :class:`tracejudge.store.review.SQLiteReviewStore`, whose
ConfigurationError becomes a 400 naming the field, before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tracejudge.model import Annotation, Category, ReviewQueue
from tracejudge.review.queues import QueueProgress
from tracejudge.review.taxonomy import Taxonomy

__all__ = [
    "AnnotationCreate",
    "AnnotationPublic",
    "AnnotationUndo",
    "AnnotationsPublic",
    "AssignCreate",
    "CategoriesPublic",
    "CategoryCreate",
    "CategoryPublic",
    "NextItemPublic",
    "NextItemRequest",
    "ProgressPublic",
    "QueueCreate",
    "QueuePublic",
    "QueuesPublic",
    "TaxonomyPublic",
    "annotation_json",
    "category_json",
    "progress_json",
    "queue_json",
    "taxonomy_json",
]

HEX16 = r"^[0-9a-f]{16}$"
HEX32 = r"^[0-9a-f]{32}$"
_STRICT = ConfigDict(extra="forbid")


class AnnotationCreate(BaseModel):
    """The new state of the caller's annotation of a trace (or of one of its spans)."""

    model_config = _STRICT
    trace_id: str = Field(pattern=HEX32)
    span_id: str | None = Field(default=None, pattern=HEX16, description="null: trace-level")
    label: str | None = Field(default=None, description="pass, fail, defer or null")
    note: str | None = None
    failure_modes: list[str] = Field(default_factory=list, description="category ids or names")
    queue_id: str | None = None
    annotator: str | None = Field(
        default=None, description="required on a server without keys; else the key's name"
    )


class AnnotationUndo(BaseModel):
    model_config = _STRICT
    trace_id: str = Field(pattern=HEX32)
    span_id: str | None = Field(default=None, pattern=HEX16)
    annotator: str | None = None


class AssignCreate(BaseModel):
    """Add (or remove) a category on the annotation's key."""

    model_config = _STRICT
    category: str = Field(description="category id or name")
    remove: bool = False
    author: str | None = None


class AnnotationPublic(BaseModel):
    id: str
    project: str
    trace_id: str
    span_id: str | None
    annotator: str
    label: str | None
    note: str | None
    failure_modes: list[str]
    action: str
    supersedes: str | None
    queue_id: str | None
    author: str | None
    created_at_ns: int


class AnnotationsPublic(BaseModel):
    data: list[AnnotationPublic]
    count: int


class QueueCreate(BaseModel):
    model_config = _STRICT
    name: str
    project: str | None = None
    filter: str | None = Field(default=None, description="span filter: traces with a match")
    sample: int | None = Field(default=None, description="draw this many traces at random")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    unlabelled_only: bool = False
    include_judge_traces: bool = Field(
        default=False, description="also traces whose root is an EVALUATOR span"
    )
    limit: int = 100


class ProgressPublic(BaseModel):
    total: int
    labelled: int
    held: int
    text: str = Field(description="'12 of 100 labelled'")


class QueuePublic(BaseModel):
    id: str
    project: str
    name: str
    source: str
    items: list[str]
    seed: int | None
    created_by: str | None
    created_at_ns: int
    progress: ProgressPublic


class QueuesPublic(BaseModel):
    data: list[QueuePublic]
    count: int


class NextItemRequest(BaseModel):
    model_config = _STRICT
    annotator: str | None = None


class NextItemPublic(BaseModel):
    trace_id: str | None = Field(description="claimed for the caller; null when done")
    progress: ProgressPublic


class CategoryCreate(BaseModel):
    model_config = _STRICT
    name: str
    definition: str
    project: str | None = None


class CategoryPublic(BaseModel):
    id: str
    project: str
    name: str
    definition: str
    created_by: str | None
    created_at_ns: int


class CategoriesPublic(BaseModel):
    data: list[CategoryPublic]
    count: int


class CategoryCountPublic(BaseModel):
    category: CategoryPublic
    traces: int
    rate: float | None


class SaturationPointPublic(BaseModel):
    reviewed: int
    distinct: int
    new: int


class TaxonomyPublic(BaseModel):
    reviewed: int
    step: int = Field(description="reviewed traces per saturation point")
    uncategorized: int
    saturated: bool
    counts: list[CategoryCountPublic]
    saturation: list[SaturationPointPublic]
    notes: list[AnnotationPublic]


def annotation_json(a: Annotation) -> dict[str, Any]:
    out = asdict(a)
    out["failure_modes"] = list(a.failure_modes)
    return out


def category_json(c: Category) -> dict[str, Any]:
    return asdict(c)


def progress_json(p: QueueProgress) -> dict[str, Any]:
    return {"total": p.total, "labelled": p.labelled, "held": p.held, "text": str(p)}


def queue_json(q: ReviewQueue, progress: QueueProgress) -> dict[str, Any]:
    out = asdict(q)
    out["items"] = list(q.items)
    out["progress"] = progress_json(progress)
    return out


def taxonomy_json(t: Taxonomy) -> dict[str, Any]:
    return {
        "reviewed": t.reviewed,
        "step": t.step,
        "uncategorized": t.uncategorized,
        "saturated": t.saturated,
        "counts": [
            {"category": category_json(c.category), "traces": c.traces, "rate": c.rate}
            for c in t.counts
        ],
        "saturation": [asdict(p) for p in t.saturation],
        "notes": [annotation_json(a) for a in t.notes],
    }
