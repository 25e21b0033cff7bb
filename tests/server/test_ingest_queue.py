"""The single-writer queue over a real SQLite store: coalescing, per-batch results, bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.server.conftest import llm_trace, make_request

from tracejudge.ingest.pipeline import decode_and_normalize
from tracejudge.server.ingest_queue import IngestQueue, QueueClosed, QueueFull
from tracejudge.store import open_store
from tracejudge.store.base import Store


def _spans(trace: int, name: str = "llm"):  # type: ignore[no-untyped-def]
    raw = llm_trace(trace)
    raw[1].name = name
    spans, _ = decode_and_normalize(make_request(raw), content_type="application/x-protobuf")
    return spans


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "q.db")
    yield s
    s.close()


def test_queued_batches_share_one_transaction_and_get_their_own_conflicts(store: Store) -> None:
    store.write(_spans(1))
    queue = IngestQueue(store, write_batch_spans=100)
    futures = [queue.submit(_spans(2)), queue.submit(_spans(1, "changed")), queue.submit(_spans(3))]
    queue.start()  # all three are waiting: one transaction
    results = [f.result(10) for f in futures]
    queue.close()
    assert queue.transactions == 1
    assert [len(r.conflicts) for r in results] == [0, 1, 0]
    assert results[1].conflicts == ((f"{1:032x}", f"{12:016x}"),)
    assert len(store.list_spans()) == 9


def test_a_failing_batch_fails_alone(store: Store) -> None:
    queue = IngestQueue(store)
    good = queue.submit(_spans(1))
    bad = queue.submit(["not a span"])  # type: ignore[list-item]
    queue.start()
    assert len(good.result(10).conflicts) == 0
    with pytest.raises(Exception, match="spans\\[0\\]"):
        bad.result(10)
    queue.close()
    assert len(store.list_spans()) == 3


def test_full_queue_refuses_and_closed_queue_refuses(store: Store) -> None:
    queue = IngestQueue(store, max_spans=4)
    queue.submit(_spans(1))  # 3 pending, writer not started
    with pytest.raises(QueueFull):
        queue.submit(_spans(2))
    assert queue.pending == 3
    queue.start()
    queue.close()  # commits what is queued first
    assert queue.pending == 0
    assert len(store.list_spans()) == 3
    with pytest.raises(QueueClosed):
        queue.submit(_spans(3))
