"""Failure taxonomy: counts and rates per category, notes, and the saturation trend."""

from __future__ import annotations

import pytest

from store._factory import sid, tid
from tracejudge.review.taxonomy import SaturationPoint, saturation
from tracejudge.store.review import SQLiteReviewStore


def test_counts_and_rates_follow_current_annotations(review: SQLiteReviewStore) -> None:
    price = review.create_category("shop", "Made-up price", "a price not in the context")
    tone = review.create_category("shop", "Tone", "curt or rude")
    review.annotate("shop", tid(1), "ana", label="fail", note="price $30", failure_modes=[price.id])
    review.annotate("shop", tid(2), "ana", label="fail", note="rude", failure_modes=[tone.id])
    review.annotate("shop", tid(2), "bo", span_id=sid(21), label="fail", failure_modes=[price.id])
    review.annotate("shop", tid(3), "ana", label="pass")
    review.annotate("shop", tid(4), "ana", label="fail", note="no category yet")
    review.annotate("shop", tid(5), "ana", note="note only: not reviewed")
    tax = review.taxonomy("shop")
    assert tax.reviewed == 4
    assert [(c.category.name, c.traces, c.rate) for c in tax.counts] == [
        ("Made-up price", 2, 0.5),
        ("Tone", 1, 0.25),
    ]
    assert tax.uncategorized == 1
    assert [n.note for n in tax.notes] == [
        "note only: not reviewed",
        "no category yet",
        "rude",
        "price $30",
    ]
    # Assigning a category to a note updates the counts.
    note = next(n for n in tax.notes if n.trace_id == tid(4))
    review.assign("shop", note.id, tone.id, author="lead")
    after = review.taxonomy("shop")
    assert {c.category.name: c.traces for c in after.counts} == {"Made-up price": 2, "Tone": 2}
    assert after.uncategorized == 0
    assert review.taxonomy("other").reviewed == 0


def test_saturation_series_counts_new_categories_per_window() -> None:
    per_trace = [frozenset(s) for s in (["a"], [], ["a", "b"], ["b"], ["c"], [], ["a"])]
    assert saturation(per_trace, 2) == [
        SaturationPoint(2, 1, 1),
        SaturationPoint(4, 2, 1),
        SaturationPoint(6, 3, 1),
        SaturationPoint(7, 3, 0),
    ]
    assert saturation([], 5) == []
    with pytest.raises(ValueError):
        saturation(per_trace, 0)


def test_store_saturation_reaches_a_plateau(review: SQLiteReviewStore) -> None:
    cats = [review.create_category("shop", f"c{i}", f"category {i}") for i in range(3)]
    for n in range(1, 13):
        modes = [cats[n % 3].id] if n <= 6 else [cats[0].id]
        review.annotate("shop", tid(n), "ana", label="fail", failure_modes=modes)
    tax = review.taxonomy("shop", step=4)
    assert [(p.reviewed, p.distinct, p.new) for p in tax.saturation] == [
        (4, 3, 3),
        (8, 3, 0),
        (12, 3, 0),
    ]
    assert tax.saturated
    assert review.taxonomy("shop").step == 2  # default: about ten points (12 reviewed)
