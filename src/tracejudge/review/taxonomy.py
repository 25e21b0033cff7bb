"""Failure-taxonomy figures: counts and rates per category, and the saturation trend.

Pure functions over the *current* annotations (latest per annotator, trace and span) and
the project's categories. A trace counts as reviewed once someone gave it a label; it
carries a category when any current annotation of it (trace- or span-level, any
annotator) lists that category. Saturation asks whether reviewing more traces still turns
up new failure modes: walking the reviewed traces in the order they were first reviewed,
every ``step`` traces it records how many distinct categories have been seen so far and
how many of them are new in that window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracejudge.model import Annotation, Category

__all__ = [
    "CategoryCount",
    "SaturationPoint",
    "Taxonomy",
    "build_taxonomy",
    "saturation",
]


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: Category
    traces: int  # reviewed traces carrying the category
    rate: float | None  # traces / reviewed traces (None before anything is reviewed)


@dataclass(frozen=True, slots=True)
class SaturationPoint:
    reviewed: int  # traces reviewed so far
    distinct: int  # distinct categories seen on them
    new: int  # categories first seen since the previous point


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Everything the taxonomy page shows for one project."""

    reviewed: int
    counts: tuple[CategoryCount, ...]  # by traces, descending, then name
    uncategorized: int  # reviewed traces with a "fail" label and no category
    notes: tuple[Annotation, ...]  # current annotations with a note, newest first
    saturation: tuple[SaturationPoint, ...]
    step: int = 10  # reviewed traces per saturation point

    @property
    def saturated(self) -> bool:
        """True when the last window of reviews brought no new category."""
        return len(self.saturation) > 1 and self.saturation[-1].new == 0


def saturation(per_trace: Sequence[frozenset[str]], step: int) -> list[SaturationPoint]:
    """Cumulative distinct categories after every ``step`` traces (and after the last one).

    ``per_trace``: the categories of each reviewed trace, in first-review order.
    """
    if step < 1:
        raise ValueError("step must be >= 1")
    seen: set[str] = set()
    points: list[SaturationPoint] = []
    before = 0
    for i, categories in enumerate(per_trace, start=1):
        seen |= categories
        if i % step == 0 or i == len(per_trace):
            points.append(SaturationPoint(i, len(seen), len(seen) - before))
            before = len(seen)
    return points


def build_taxonomy(
    categories: Sequence[Category], current: Sequence[Annotation], *, step: int | None = None
) -> Taxonomy:
    """The taxonomy figures from a project's categories and current annotations.

    ``current`` must be in record order (oldest first): the order traces were first
    reviewed is taken from it. ``step`` (traces per saturation point) defaults to a tenth
    of the reviewed traces, so the trend has about ten points at any size.
    """
    order: list[str] = []
    labelled: set[str] = set()
    modes: dict[str, set[str]] = {}
    failed: set[str] = set()
    for a in current:
        if a.label is not None and a.trace_id not in labelled:
            labelled.add(a.trace_id)
            order.append(a.trace_id)
        modes.setdefault(a.trace_id, set()).update(a.failure_modes)
        if a.label == "fail":
            failed.add(a.trace_id)
    if step is None:
        step = max(1, -(-len(order) // 10))
    known = {c.id for c in categories}
    per_trace = [frozenset(modes.get(t, set()) & known) for t in order]
    reviewed = len(order)
    counts = []
    for c in categories:
        n = sum(1 for cats in per_trace if c.id in cats)
        counts.append(CategoryCount(c, n, n / reviewed if reviewed else None))
    counts.sort(key=lambda cc: (-cc.traces, cc.category.name.casefold()))
    uncategorized = sum(
        1 for t, cats in zip(order, per_trace, strict=True) if t in failed and not cats
    )
    notes = tuple(sorted((a for a in current if a.note), key=lambda a: -a.created_at_ns))
    return Taxonomy(
        reviewed, tuple(counts), uncategorized, notes, tuple(saturation(per_trace, step)), step
    )
