"""Write-once semantics: duplicates, conflicts, and the database-level triggers."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from tracejudge.model import WriteResult, compute_content_hash
from tracejudge.store.sqlite import SQLiteStore

from ._factory import CLOCK_NS, make_eval, make_span, sid, tid


def test_write_stores_the_span_with_bookkeeping(store: SQLiteStore) -> None:
    span = make_span(1, 1)
    assert store.write([span]) == WriteResult(inserted=1)
    stored = store.span(sid(1))
    assert stored == dataclasses.replace(
        span, content_hash=compute_content_hash(span), ingest_seq=1, ingested_at_ns=CLOCK_NS
    )


def test_given_content_hash_is_kept(store: SQLiteStore) -> None:
    span = make_span(1, 1)
    span = dataclasses.replace(span, content_hash=compute_content_hash(span))
    store.write([span])
    assert store.span(sid(1)).content_hash == span.content_hash  # type: ignore[union-attr]


def test_identical_resend_is_a_counted_noop(store: SQLiteStore) -> None:
    batch = [make_span(1, 1), make_span(1, 2, 1)]
    store.write(batch)
    again = store.write([*batch, make_span(1, 3, 1)])
    assert again == WriteResult(inserted=1, duplicates=2)
    assert [s.span_id for s in store.list_spans()] == [sid(1), sid(2), sid(3)]
    summary = store.list_traces("shop")[0]
    assert summary.span_count == 3  # duplicates are not counted twice


def test_conflicting_resend_keeps_first_and_is_reported(store: SQLiteStore) -> None:
    first = make_span(1, 1)
    store.write([first])
    changed = dataclasses.replace(first, name="renamed", attributes={"x": 1})
    result = store.write([changed, make_span(1, 2, 1)])
    assert result == WriteResult(inserted=1, conflicts=((tid(1), sid(1)),))
    stored = store.span(sid(1))
    assert stored is not None
    assert (stored.name, stored.attributes) == (first.name, first.attributes)


def test_duplicates_within_one_batch(store: SQLiteStore) -> None:
    span = make_span(1, 1)
    result = store.write([span, span, dataclasses.replace(span, name="other")])
    assert result == WriteResult(inserted=1, duplicates=1, conflicts=((tid(1), sid(1)),))
    assert store.list_traces("shop")[0].span_count == 1


def test_evaluation_with_existing_id_is_skipped(store: SQLiteStore) -> None:
    store.write([make_span(1, 1)], [make_eval(1, 1, 1)])
    result = store.write([], [make_eval(1, 1, 1, score=0.0), make_eval(2, 1, 1)])
    assert result == WriteResult(evaluations=1)
    assert [(e.id, e.score) for e in store.evaluations(span_id=sid(1))] == [
        ("eval-1", 1.0),
        ("eval-2", 1.0),
    ]


@pytest.mark.parametrize(
    ("table", "sql", "message"),
    [
        ("spans", "UPDATE spans SET name = 'x'", "spans are write-once"),
        ("spans", "UPDATE spans SET attributes = '{}' WHERE span_id = ?", "spans are write-once"),
        ("spans", "DELETE FROM spans", "spans are write-once"),
        ("evaluations", "UPDATE evaluations SET score = 0", "evaluations are append-only"),
        ("evaluations", "DELETE FROM evaluations", "evaluations are append-only"),
    ],
)
def test_database_rejects_update_and_delete_from_a_raw_connection(
    store: SQLiteStore, db_path: Path, table: str, sql: str, message: str
) -> None:
    store.write([make_span(1, 1)], [make_eval(1, 1, 1)])
    raw = sqlite3.connect(db_path)
    try:
        params = (sid(1),) if "?" in sql else ()
        with pytest.raises(sqlite3.IntegrityError, match=message):
            raw.execute(sql, params)
        raw.rollback()
        assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    finally:
        raw.close()
    assert store.span(sid(1)).name == "span-1"  # type: ignore[union-attr]


def test_large_batch_with_many_traces_and_a_resend(store: SQLiteStore) -> None:
    # More distinct traces than one IN (...) lookup takes, then the same batch again.
    batch = [make_span(t, 1) for t in range(1, 1201)] + [make_span(t, 2, 1) for t in (1, 1200)]
    assert store.write(batch) == WriteResult(inserted=1202)
    assert store.write(batch) == WriteResult(duplicates=1202)
    summaries = store.list_traces("shop", limit=2000)
    assert len(summaries) == 1200
    assert sorted(s.span_count for s in summaries)[-3:] == [1, 2, 2]


def test_none_still_binds_as_null_with_the_fast_none_adapter(tmp_path: Path) -> None:
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    conn = sqlite3.connect(tmp_path / "n.db")
    try:
        conn.execute("CREATE TABLE t (a, b)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (2, None)])
        assert conn.execute("SELECT typeof(a), typeof(b) FROM t").fetchall() == [
            ("null", "integer"),
            ("integer", "null"),
        ]
    finally:
        conn.close()
