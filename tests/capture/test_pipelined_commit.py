"""The embedded exporter commits on a writer thread while the next batch is prepared.

Real SQLite files throughout; a commit is made to fail by another connection holding the
database's exclusive lock longer than the store's busy timeout.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture
from tracejudge.capture import span
from tracejudge.capture._committer import Committer
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


def _commit_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tracejudge-commit"]


class _Held:
    """Another connection holding SQLite's exclusive lock on the database file."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    open_store(path).close()
    return path


def test_every_exported_batch_is_queryable_once_flush_returns(db: Path) -> None:
    before = len(_commit_threads())
    exporter = EmbeddedSpanExporter("p", db=db)
    batches = [_spans(f"b{b}-", 200) for b in range(10)]
    try:
        for batch in batches:
            assert exporter.export(batch).name == "SUCCESS"
        assert exporter.force_flush(10_000)
        assert exporter.exported_spans == 2000
        assert _names(db) == {s.name for batch in batches for s in batch}
    finally:
        exporter.shutdown()
    assert len(_commit_threads()) == before  # the writer thread is gone


def test_a_failed_commit_is_logged_counted_and_later_batches_still_written(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(db, busy_timeout_ms=200)
    exporter = EmbeddedSpanExporter("p", store=store)
    try:
        assert exporter.export(_spans("first", 5)).name == "SUCCESS"
        assert exporter.force_flush(10_000)
        lock = _Held(db)
        try:
            t0 = time.perf_counter()
            # Accepted at once: the commit waits for the lock on the writer thread.
            assert exporter.export(_spans("locked", 5)).name == "SUCCESS"
            assert time.perf_counter() - t0 < 0.2
            with caplog.at_level(logging.WARNING, "tracejudge.capture.exporter"):
                assert exporter.force_flush(10_000)  # done: failed, counted, logged
            assert (exporter.failed_batches, exporter.dropped_spans) == (1, 5)
            assert any("could not write to the store" in r.getMessage() for r in caplog.records)
        finally:
            lock.release()
        assert exporter.export(_spans("after", 5)).name == "SUCCESS"
        assert exporter.force_flush(10_000)
        names = _names(db)
        assert {f"after{i}" for i in range(5)} <= names
        assert not any(n.startswith("locked") for n in names)
        assert exporter.exported_spans == 10
    finally:
        exporter.shutdown()
        store.close()


def test_only_one_commit_in_flight_and_flush_is_bounded(db: Path) -> None:
    store = SQLiteStore(db, busy_timeout_ms=3000)
    exporter = EmbeddedSpanExporter("p", store=store)
    lock = _Held(db)
    try:
        assert exporter.export(_spans("a", 3)).name == "SUCCESS"  # its commit now waits
        t0 = time.perf_counter()
        assert exporter.force_flush(100) is False  # bounded by its timeout
        assert time.perf_counter() - t0 < 1.0
        second = threading.Thread(target=exporter.export, args=(_spans("b", 3),))
        second.start()
        second.join(0.3)
        assert second.is_alive()  # prepared, waiting for the first commit to finish
    finally:
        lock.release()
    second.join(10)
    assert not second.is_alive()
    assert exporter.force_flush(10_000)
    assert _names(db) == {"a0", "a1", "a2", "b0", "b1", "b2"}
    exporter.shutdown()
    store.close()


def test_shutdown_waits_for_the_commit_in_flight(db: Path) -> None:
    before = len(_commit_threads())
    exporter = EmbeddedSpanExporter(
        "p", db=db, store_factory=lambda path: SQLiteStore(path, busy_timeout_ms=5000)
    )
    lock = _Held(db)
    releaser = threading.Timer(0.3, lock.release)
    releaser.start()
    try:
        assert exporter.export(_spans("s", 4)).name == "SUCCESS"
        exporter.shutdown(timeout_millis=5000)
    finally:
        releaser.join()
    assert _names(db) == {"s0", "s1", "s2", "s3"}  # committed before shutdown returned
    assert exporter.exported_spans == 4
    assert len(_commit_threads()) == before
    assert exporter.export(_spans("late", 1)).name == "FAILURE"  # refused, counted
    assert exporter.dropped_spans == 1


def test_register_flush_means_durable_and_shutdown_leaves_no_thread(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    before = len(_commit_threads())
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
    assert len(_commit_threads()) == before


def test_unbatched_register_commits_inside_span_end(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    before = len(_commit_threads())
    capture.register("p", db=db, set_global=False, batch=False)
    try:
        with span("now"):
            pass
        assert _names(db) == {"now"}  # no flush: SimpleSpanProcessor's promise holds
        assert len(_commit_threads()) == before
    finally:
        capture.shutdown()


def test_committer_thread_exits_when_idle_and_restarts_on_demand() -> None:
    committer = Committer(idle_s=0.05)
    done: list[int] = []
    assert committer.submit(lambda: done.append(1))
    assert committer.wait_idle(5)
    deadline = time.monotonic() + 5
    while committer.thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert committer.thread is None
    assert committer.submit(lambda: done.append(2))
    assert committer.close(5)
    assert done == [1, 2]
    assert committer.thread is None
    assert committer.submit(lambda: done.append(3)) is False  # closed: refused
    assert done == [1, 2]
