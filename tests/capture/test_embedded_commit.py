"""The embedded exporter's commit: durable when export returns, failures contained.

Real SQLite files throughout; a commit is made to fail by another connection holding the
database's exclusive lock longer than the store's busy timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.capture.conftest import HeldLock

from tracejudge import capture
from tracejudge.capture import span
from tracejudge.capture.exporter import EmbeddedSpanExporter
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore


def _spans(prefix: str, n: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(n):
        with tracer.start_as_current_span(f"{prefix}{i}"):
            pass
    return list(memory.get_finished_spans())


def _names(db: Path) -> set[str]:
    """Span names committed, read on a separate connection."""
    with open_store(db) as store:
        return {s.name for s in store.list_spans("p", limit=100_000)}


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _no_new_threads(before: set[threading.Thread]) -> bool:
    """True once every thread started since ``before`` has ended (polled: flush helper
    threads finish just after they report)."""
    deadline = time.monotonic() + 5
    while _threads() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    return not (_threads() - before)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    open_store(path).close()
    return path


def test_every_exported_batch_is_queryable_once_export_returns(db: Path) -> None:
    exporter = EmbeddedSpanExporter("p", db=db)
    batches = [_spans(f"b{b}-", 200) for b in range(5)]
    try:
        expected: set[str] = set()
        for batch in batches:
            assert exporter.export(batch).name == "SUCCESS"
            expected |= {s.name for s in batch}
            assert _names(db) == expected  # committed: another connection sees it
        assert exporter.exported_spans == 1000
    finally:
        exporter.shutdown()


def test_a_failed_commit_is_logged_counted_and_later_batches_still_written(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(db, busy_timeout_ms=200)
    exporter = EmbeddedSpanExporter("p", store=store)
    try:
        assert exporter.export(_spans("first", 5)).name == "SUCCESS"
        lock = HeldLock(db)
        try:
            with caplog.at_level(logging.WARNING, "tracejudge.capture.exporter"):
                assert exporter.export(_spans("locked", 5)).name == "FAILURE"  # not raised
            assert (exporter.failed_batches, exporter.dropped_spans) == (1, 5)
            assert any("could not write to the store" in r.getMessage() for r in caplog.records)
        finally:
            lock.release()
        assert exporter.export(_spans("after", 5)).name == "SUCCESS"
        names = _names(db)
        assert {f"after{i}" for i in range(5)} <= names
        assert not any(n.startswith("locked") for n in names)
        assert exporter.exported_spans == 10
    finally:
        exporter.shutdown()
        store.close()


def test_shutdown_waits_for_the_export_in_progress(db: Path) -> None:
    exporter = EmbeddedSpanExporter(
        "p", db=db, store_factory=lambda path: SQLiteStore(path, busy_timeout_ms=5000)
    )
    assert exporter.export(_spans("warm", 1)).name == "SUCCESS"  # the store is open
    lock = HeldLock(db)
    results: list[str] = []
    export = threading.Thread(target=lambda: results.append(exporter.export(_spans("s", 4)).name))
    export.start()
    time.sleep(0.1)  # the export now waits on the lock
    threading.Timer(0.3, lock.release).start()
    exporter.shutdown(timeout_millis=5000)
    export.join(5)
    assert results == ["SUCCESS"]
    assert _names(db) == {"warm0", "s0", "s1", "s2", "s3"}  # committed, not cut off
    assert exporter.exported_spans == 5
    assert exporter.export(_spans("late", 1)).name == "FAILURE"  # refused, counted
    assert exporter.dropped_spans == 1


def test_register_flush_means_durable_and_shutdown_leaves_no_thread(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    before = _threads()
    capture.register("p", db=db, set_global=False)
    try:
        for i in range(2000):
            with span(f"s{i}"):
                pass
        assert capture.flush(timeout_s=30)
        assert capture.stats().exported_spans == 2000
        assert len(_names(db)) == 2000
    finally:
        capture.shutdown()
    assert _no_new_threads(before)


def test_unbatched_register_commits_inside_span_end(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    capture.register("p", db=db, set_global=False, batch=False)
    try:
        with span("now"):
            pass
        assert _names(db) == {"now"}  # no flush: SimpleSpanProcessor exports in end()
    finally:
        capture.shutdown()
