"""Annotations: append-only records, latest per annotator, undo walks back, validation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store._factory import sid, tid
from tracejudge.errors import ConfigurationError, NotFound, SpanNotFound, TraceNotFound
from tracejudge.store.review import SQLiteReviewStore


def _count(path: Path, table: str = "annotations") -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_latest_record_per_annotator_is_current(review: SQLiteReviewStore) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    review.annotate("shop", tid(1), "ana", label="fail", note="wrong SKU retrieved")
    review.annotate("shop", tid(1), "bo", label="pass")
    review.annotate("shop", tid(2), "ana", label="defer")
    current = review.current("shop", trace_ids=[tid(1)])
    assert [(a.annotator, a.label, a.note) for a in current] == [
        ("ana", "fail", "wrong SKU retrieved"),
        ("bo", "pass", None),
    ]
    assert len(review.history("shop", tid(1))) == 3
    labels = review.latest_labels("shop", [tid(1), tid(2), tid(3)])
    assert {t: sorted(a.label or "" for a in v) for t, v in labels.items()} == {
        tid(1): ["fail", "pass"],
        tid(2): ["defer"],
    }


def test_span_level_and_trace_level_are_separate_keys(review: SQLiteReviewStore) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    span_level = review.annotate("shop", tid(1), "ana", span_id=sid(11), label="fail")
    assert span_level.span_id == sid(11)
    current = review.current("shop", trace_ids=[tid(1)])
    assert {(a.span_id, a.label) for a in current} == {(None, "pass"), (sid(11), "fail")}
    assert [a.label for a in review.current("shop", trace_level_only=True)] == ["pass"]


def test_records_cannot_be_updated_or_deleted(review: SQLiteReviewStore, db_path: Path) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    review.create_category("shop", "wrong retrieval", "retrieved the wrong document")
    conn = sqlite3.connect(db_path)
    try:
        for sql in (
            "UPDATE annotations SET label = 'fail'",
            "DELETE FROM annotations",
            "UPDATE categories SET name = 'x'",
            "DELETE FROM categories",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


def test_saving_the_current_state_again_writes_nothing(
    review: SQLiteReviewStore, db_path: Path
) -> None:
    first = review.annotate("shop", tid(1), "ana", label="fail", note="n")
    again = review.annotate("shop", tid(1), "ana", label="FAIL", note="n")
    assert again == first
    assert _count(db_path) == 1


def test_undo_walks_back_through_history_then_clears(review: SQLiteReviewStore) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    review.annotate("shop", tid(1), "ana", label="fail")
    review.annotate("shop", tid(1), "ana", label="fail", note="bad price")
    states = []
    for _ in range(3):
        record = review.undo("shop", tid(1), "ana")
        assert record.action == "undo"
        states.append((record.label, record.note))
    assert states == [("fail", None), ("pass", None), (None, None)]
    assert review.current("shop", trace_ids=[tid(1)]) == []  # cleared keys are not current
    with pytest.raises(ConfigurationError, match="nothing to undo"):
        review.undo("shop", tid(1), "ana")
    # Every change and undo is kept, in order.
    actions = [a.action for a in review.history("shop", tid(1))]
    assert actions == ["set", "set", "set", "undo", "undo", "undo"]


def test_undo_after_a_new_change_restores_the_state_before_it(
    review: SQLiteReviewStore,
) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    review.annotate("shop", tid(1), "ana", label="fail")
    review.undo("shop", tid(1), "ana")  # back to pass
    review.annotate("shop", tid(1), "ana", label="defer")
    assert review.undo("shop", tid(1), "ana").label == "pass"
    assert review.undo("shop", tid(1), "ana").label is None


def test_undo_is_per_annotator(review: SQLiteReviewStore) -> None:
    review.annotate("shop", tid(1), "ana", label="pass")
    review.annotate("shop", tid(1), "bo", label="fail")
    review.undo("shop", tid(1), "ana")
    assert [(a.annotator, a.label) for a in review.current("shop")] == [("bo", "fail")]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"label": "maybe"}, ConfigurationError, "label: must be one of pass, fail, defer"),
        ({"label": 1}, ConfigurationError, "label"),
        ({"note": "x" * 20_001}, ConfigurationError, "note: longer"),
        ({"note": 5}, ConfigurationError, "note: must be text"),
        ({"failure_modes": ["nope"]}, ConfigurationError, "no such category.*'nope'"),
        ({"failure_modes": "nope"}, ConfigurationError, "a list"),
        ({}, ConfigurationError, "nothing to save"),
        ({"label": "pass", "annotator": " "}, ConfigurationError, "annotator"),
        ({"label": "pass", "trace_id": tid(99)}, TraceNotFound, "no trace"),
        ({"label": "pass", "trace_id": tid(77)}, TraceNotFound, "no trace"),
        ({"label": "pass", "span_id": sid(21)}, SpanNotFound, "no span"),
        ({"label": "pass", "queue_id": "q" * 32}, NotFound, "no review queue"),
    ],
)
def test_bad_annotations_are_rejected_and_nothing_is_written(
    review: SQLiteReviewStore, db_path: Path, kwargs: dict, error: type, match: str
) -> None:
    args = {"trace_id": tid(1), "annotator": "ana", **kwargs}
    with pytest.raises(error, match=match):
        review.annotate("shop", args.pop("trace_id"), args.pop("annotator"), **args)
    assert _count(db_path) == 0


def test_failure_modes_by_name_or_id_are_stored_as_ids(review: SQLiteReviewStore) -> None:
    wrong = review.create_category("shop", "Wrong retrieval", "the retriever missed")
    price = review.create_category("shop", "Made-up price", "a price not in the context")
    record = review.annotate(
        "shop", tid(1), "ana", label="fail", failure_modes=["wrong retrieval", price.id, wrong.id]
    )
    assert record.failure_modes == (wrong.id, price.id)
    # Another project's categories are not this project's.
    with pytest.raises(ConfigurationError, match="no such category"):
        review.annotate("other", tid(99), "ana", label="fail", failure_modes=[wrong.id])


def test_assign_adds_and_removes_a_category_on_the_notes_key(
    review: SQLiteReviewStore,
) -> None:
    cat = review.create_category("shop", "Hallucinated price", "price not in the docs")
    note = review.annotate("shop", tid(1), "ana", label="fail", note="made up $30")
    assigned = review.assign("shop", note.id, cat.id, author="lead")
    assert (assigned.annotator, assigned.author, assigned.action) == ("ana", "lead", "assign")
    assert (assigned.label, assigned.note, assigned.failure_modes) == (
        "fail",
        "made up $30",
        (cat.id,),
    )
    assert review.assign("shop", note.id, cat.id, author="lead") == assigned  # no change
    removed = review.assign("shop", note.id, cat.name, author="lead", remove=True)
    assert removed.failure_modes == ()
    with pytest.raises(ConfigurationError, match="no such category"):
        review.assign("shop", note.id, "unknown", author="lead")


def test_category_names_are_unique_per_project(review: SQLiteReviewStore) -> None:
    review.create_category("shop", "Tone", "rude or curt")
    with pytest.raises(ConfigurationError, match="already exists"):
        review.create_category("shop", "  tone ", "again")
    review.create_category("other", "Tone", "another project may reuse it")
    with pytest.raises(ConfigurationError, match="definition"):
        review.create_category("shop", "Empty", "  ")
    assert [c.name for c in review.categories("shop")] == ["Tone"]
