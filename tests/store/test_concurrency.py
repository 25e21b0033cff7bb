"""Two processes (capture SDK + server) and many threads write one file at once."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from tracejudge.store.sqlite import SQLiteStore

from ._factory import make_eval, make_span, sid, tid

BATCHES = 20
PER_BATCH = 50


def _writer(path: str, worker: int, barrier: Any, results: Any) -> None:
    """Write BATCHES batches of spans into traces owned by this worker."""
    with SQLiteStore(path, busy_timeout_ms=30_000) as store:
        barrier.wait()
        inserted = 0
        for b in range(BATCHES):
            trace = worker * 1000 + b + 1
            spans = [make_span(trace, n + 1, None if n == 0 else 1) for n in range(PER_BATCH)]
            inserted += store.write(spans, [make_eval(trace, trace, 1)]).inserted
        results.put((worker, inserted))


def test_two_processes_writing_the_same_file_both_succeed(db_path: Path) -> None:
    SQLiteStore(db_path).close()  # migrate first: this test is about concurrent writes
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(db_path), w, barrier, results)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted(results.get(timeout=5) for _ in procs) == [
        (1, BATCHES * PER_BATCH),
        (2, BATCHES * PER_BATCH),
    ]
    with SQLiteStore(db_path) as store:
        assert store.verify().checked == 2 * BATCHES * PER_BATCH
        assert len(store.list_traces("shop", limit=1000)) == 2 * BATCHES
        seqs = [s.ingest_seq for s in store.list_spans(limit=10_000)]
        assert seqs == list(range(1, 2 * BATCHES * PER_BATCH + 1))  # one gap-free cursor
        assert len(store.evaluations(trace_id=tid(1001))) == 1


def test_threads_share_one_store(store: SQLiteStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for b in range(10):
                trace = worker * 100 + b + 1
                store.write([make_span(trace, 1), make_span(trace, 2, 1)])
                assert store.span(sid(1)) is not None  # reads interleave with writes
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(store.list_traces("shop", limit=100)) == 40
    assert store.verify().checked == 80
