"""A write is all or nothing: one bad record (or a refusal by the database) stores nothing."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from tracejudge.errors import StoreError
from tracejudge.model import WriteResult
from tracejudge.store.sqlite import SQLiteStore

from ._factory import make_eval, make_span


def _counts(db_path: Path) -> tuple[int, int, int]:
    raw = sqlite3.connect(db_path)
    try:
        return tuple(  # type: ignore[return-value]
            raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("spans", "evaluations", "traces")
        )
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"trace_id": "XYZ"}, r"spans\[2\].*trace_id must be 32 lowercase hex"),
        ({"span_id": "ABCDEF0123456789"}, r"spans\[2\].*span_id must be 16 lowercase hex"),
        ({"parent_span_id": ""}, r"spans\[2\].*parent_span_id"),
        ({"project": ""}, r"spans\[2\].*project must be a non-empty string"),
        ({"status": "FINE"}, r"spans\[2\].*status must be one of"),
        ({"start_ns": 1.5}, r"spans\[2\].*start_ns must be an int"),
        ({"prompt_tokens": "12"}, r"spans\[2\].*prompt_tokens must be an int"),
        ({"attributes": {"x": object()}}, r"spans\[2\].*attributes is not JSON-serializable"),
        ({"attributes": {"big": 2**70}}, r"spans\[2\].*attributes is not JSON-serializable"),
    ],
)
def test_one_bad_span_writes_nothing(
    store: SQLiteStore, db_path: Path, bad: dict[str, object], message: str
) -> None:
    store.write([make_span(9, 9)])
    batch = [make_span(1, 1), make_span(1, 2, 1), make_span(1, 3, 1, **bad), make_span(1, 4, 1)]
    with pytest.raises(StoreError, match=message):
        store.write(batch, [make_eval(1, 1, 1)])
    assert _counts(db_path) == (1, 0, 1)
    # The store is still usable and the same good records go in afterwards.
    good = [s for s in batch if s.span_id != batch[2].span_id]
    assert store.write(good, [make_eval(1, 1, 1)]) == WriteResult(inserted=3, evaluations=1)


def test_one_bad_evaluation_writes_nothing(store: SQLiteStore, db_path: Path) -> None:
    with pytest.raises(StoreError, match=r"evaluations\[1\].*score must be a number"):
        store.write([make_span(1, 1)], [make_eval(1, 1, 1), make_eval(2, 1, 1, score="high")])
    assert _counts(db_path) == (0, 0, 0)


def test_not_a_span_is_rejected(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match=r"spans\[0\]: expected a tracejudge.model.Span"):
        store.write([{"trace_id": "x"}])  # type: ignore[list-item]


def test_database_refusal_mid_transaction_rolls_back_everything(
    store: SQLiteStore, db_path: Path
) -> None:
    # A real constraint in the database that fires after the spans and the trace summary
    # rows were inserted inside the transaction: the evaluation insert is refused.
    raw = sqlite3.connect(db_path)
    raw.execute(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON evaluations WHEN NEW.name = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
    )
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="boom refused"):
        store.write([make_span(1, 1), make_span(1, 2, 1)], [make_eval(1, 1, 1, name="boom")])
    assert _counts(db_path) == (0, 0, 0)
    assert store.list_traces("shop") == []
    assert store.write([make_span(1, 1)]).inserted == 1


def test_busy_database_fails_cleanly_after_timeout(db_path: Path) -> None:
    with SQLiteStore(db_path, busy_timeout_ms=50) as store:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            with pytest.raises(StoreError, match="locked"):
                store.write([make_span(1, 1)])
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert store.write([make_span(1, 1)]).inserted == 1


def test_closed_store_refuses_writes(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.write([make_span(1, 1)])
    with pytest.raises(StoreError, match="closed"):
        store.span("0" * 16)


def test_frozen_span_replace_keeps_validation(store: SQLiteStore) -> None:
    span = dataclasses.replace(make_span(1, 1), end_ns=True)
    with pytest.raises(StoreError, match="end_ns must be an int"):
        store.write([span])
