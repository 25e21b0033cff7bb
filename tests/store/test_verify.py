"""verify() recomputes hashes from stored columns and catches realistic tampering."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tracejudge.store.sqlite import SQLiteStore

from ._factory import make_span, sid, tid


def _tamper(db_path: Path, sql: str, params: tuple[object, ...]) -> None:
    """What an attacker with file access does: drop the guard trigger, edit, commit."""
    raw = sqlite3.connect(db_path)
    try:
        raw.execute("DROP TRIGGER spans_no_update")
        raw.execute(sql, params)
        raw.commit()
    finally:
        raw.close()


def test_untouched_store_verifies(store: SQLiteStore) -> None:
    store.write([make_span(1, n, None if n == 1 else 1) for n in range(1, 6)])
    report = store.verify()
    assert (report.checked, report.ok) == (5, True)


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("UPDATE spans SET attributes = ? WHERE span_id = ?", '{"input.value":"in 3","n":4}'),
        ("UPDATE spans SET name = ? WHERE span_id = ?", "innocent"),
        ("UPDATE spans SET end_ns = end_ns + ? WHERE span_id = ?", 1),
        ("UPDATE spans SET status = ? WHERE span_id = ?", "OK"),
        ("UPDATE spans SET attributes = ? WHERE span_id = ?", "{not json"),
    ],
)
def test_verify_catches_a_tampered_row(
    store: SQLiteStore, db_path: Path, sql: str, value: object
) -> None:
    store.write([make_span(1, n, None if n == 1 else 1, status="ERROR") for n in range(1, 6)])
    _tamper(db_path, sql, (value, sid(3)))
    report = store.verify()
    assert report.checked == 5
    assert report.mismatches == ((3, tid(1), sid(3)),)
    assert not report.ok


def test_verify_streams_in_chunks(store: SQLiteStore, db_path: Path, monkeypatch) -> None:
    # Smaller chunks than rows, so keyset pagination across chunk borders is exercised.
    monkeypatch.setattr("tracejudge.store.sqlite._VERIFY_CHUNK", 7)
    store.write([make_span(n, 1) for n in range(1, 31)])
    _tamper(db_path, "UPDATE spans SET name = ? WHERE ingest_seq IN (7, 8, 30)", ("x",))
    report = store.verify()
    assert report.checked == 30
    assert [m[0] for m in report.mismatches] == [7, 8, 30]
