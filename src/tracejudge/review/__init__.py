"""Human review: annotations (append-only labels), review queues and the failure taxonomy.

The pure rules live here (what a valid annotation is, what undo restores, which queue item
a reviewer gets next, category counts and saturation); the records are stored by
:class:`tracejudge.store.review.SQLiteReviewStore` in the same file as the spans.
"""

from __future__ import annotations

from tracejudge.review.annotations import EMPTY_STATE, AnnotationState, state_of
from tracejudge.review.queues import Claim, QueueProgress, pick_next, sample_items
from tracejudge.review.taxonomy import (
    CategoryCount,
    SaturationPoint,
    Taxonomy,
    build_taxonomy,
    saturation,
)

__all__ = [
    "EMPTY_STATE",
    "AnnotationState",
    "CategoryCount",
    "Claim",
    "QueueProgress",
    "SaturationPoint",
    "Taxonomy",
    "build_taxonomy",
    "pick_next",
    "sample_items",
    "saturation",
    "state_of",
]
