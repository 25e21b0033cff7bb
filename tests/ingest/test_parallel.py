"""The parallel ingest path (workers prepare, one writer commits) against the serial one."""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.server.conftest import llm_trace, make_request

from tracejudge.errors import DecodeError, StoreError
from tracejudge.ingest import parallel, pipeline
from tracejudge.ingest.normalize import _new_span
from tracejudge.ingest.parallel import IngestPool, ingest_requests, prepare_payload
from tracejudge.ingest.pipeline import (
    decode_and_normalize,
    ingest_file,
    ingest_payload,
    write_normalized,
)
from tracejudge.model import Span, compute_content_hash
from tracejudge.server.ingest_queue import IngestQueue
from tracejudge.store.prepared import prepare_normalized, prepare_write
from tracejudge.store.sqlite import SQLiteStore

PB = "application/x-protobuf"
CLOCK_NS = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def pool() -> Iterator[IngestPool]:
    with IngestPool(workers=2) as p:
        yield p


def _store(tmp_path: Path, name: str) -> SQLiteStore:
    return SQLiteStore(tmp_path / f"{name}.db", clock=lambda: CLOCK_NS)


def _bodies(n: int, start: int = 1) -> list[bytes]:
    return [make_request(llm_trace(t) + llm_trace(t + 1000)) for t in range(start, start + n)]


def _stored(store: SQLiteStore) -> list[Span]:
    return store.list_spans(limit=10_000)


def test_parallel_stores_exactly_what_the_serial_path_stores(
    tmp_path: Path, pool: IngestPool
) -> None:
    bodies = _bodies(12)
    serial, parallel = _store(tmp_path, "serial"), _store(tmp_path, "parallel")
    try:
        for body in bodies:
            ingest_payload(serial, body, content_type=PB)
        result = ingest_requests(parallel, bodies, content_type=PB, pool=pool, commit_spans=7)
        assert result.spans == result.inserted == len(_stored(serial)) == 72
        assert result.projects == ("shop",)
        assert _stored(parallel) == _stored(serial)  # every field, hashes included
        assert all(s.content_hash == compute_content_hash(s) for s in _stored(parallel))
        assert parallel.list_traces("shop", limit=100) == serial.list_traces("shop", limit=100)
        assert parallel.verify().ok
        again = ingest_requests(parallel, bodies[:2], content_type=PB, pool=pool)
        assert (again.inserted, again.duplicates) == (0, 12)
    finally:
        serial.close()
        parallel.close()


def test_a_bad_body_raises_the_serial_decode_error_and_nothing_of_it_or_later_is_written(
    tmp_path: Path, pool: IngestPool
) -> None:
    bad = make_request(llm_trace(50))[:-7]  # truncated protobuf
    with pytest.raises(DecodeError) as serial_error:
        decode_and_normalize(bad, content_type=PB)
    store = _store(tmp_path, "x")
    try:
        bodies = [*_bodies(3), bad, *_bodies(2, start=10)]
        with pytest.raises(DecodeError) as parallel_error:
            ingest_requests(store, bodies, content_type=PB, pool=pool)
        assert str(parallel_error.value) == str(serial_error.value)
        stored = {s.trace_id for s in _stored(store)}
        assert stored == {f"{t:032x}" for t in (1, 2, 3, 1001, 1002, 1003)}
    finally:
        store.close()


def test_worker_errors_keep_their_location_message(pool: IngestPool) -> None:
    body = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}'
    with pytest.raises(DecodeError) as serial_error:
        decode_and_normalize(body, content_type="application/json")
    with pytest.raises(DecodeError) as worker_error:
        pool.submit(body, content_type="application/json").result(30)
    assert str(worker_error.value) == str(serial_error.value)
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in str(worker_error.value)


def test_closed_pool_refuses_work_and_its_workers_are_gone() -> None:
    pool = IngestPool(workers=1)
    assert pool.submit(_bodies(1)[0], content_type=PB).result(30).spans == 6
    executor = pool._executor
    assert executor is not None
    pids = list(executor._processes)  # type: ignore[attr-defined]
    assert pids
    pool.close()
    pool.close()  # idempotent
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(StoreError, match="closed"):
        pool.submit(b"", content_type=PB)


def test_prepared_rows_survive_pickling_and_write_like_write(tmp_path: Path) -> None:
    spans, evaluations = decode_and_normalize(_bodies(1)[0], content_type=PB)
    a, b = _store(tmp_path, "a"), _store(tmp_path, "b")
    try:
        prepared = pickle.loads(pickle.dumps(prepare_write(spans, evaluations)))
        assert b.write_prepared(prepared) == a.write(spans, evaluations)
        assert _stored(a) == _stored(b)
    finally:
        a.close()
        b.close()


def test_queue_commits_prepared_batches_and_attributes_conflicts(tmp_path: Path) -> None:
    store = _store(tmp_path, "q")
    try:
        store.write(decode_and_normalize(make_request(llm_trace(1)), content_type=PB)[0])
        changed = llm_trace(1)
        changed[1].name = "changed"
        queue = IngestQueue(store)
        futures = [
            queue.submit_prepared(prepare_payload(make_request(spans), PB).prepared)
            for spans in (llm_trace(2), changed)
        ]
        queue.start()
        results = [f.result(10) for f in futures]
        queue.close()
        assert queue.transactions == 1
        assert [r.conflicts for r in results] == [(), ((f"{1:032x}", f"{12:016x}"),)]
        assert len(_stored(store)) == 6
    finally:
        store.close()


def test_large_jsonl_files_are_prepared_in_parallel_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(pipeline, "_PARALLEL_MIN_BYTES", 0)  # this small file counts as large
    real = parallel.prepare_lines
    monkeypatch.setattr(
        parallel, "prepare_lines", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k)
    )
    import orjson
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    lines = [
        orjson.dumps(MessageToDict(ExportTraceServiceRequest.FromString(body)))
        for body in _bodies(40)
    ]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    serial, par_store = _store(tmp_path, "serial"), _store(tmp_path, "parallel")
    try:
        for line in lines:
            ingest_payload(serial, line, content_type="application/json")
        result = ingest_file(par_store, path)
        assert calls == [40]
        assert result.inserted == 240
        assert _stored(par_store) == _stored(serial)
        path.write_bytes(b"\n".join([*lines[:30], b'{"resourceSpans": 1}', *lines[30:]]))
        with pytest.raises(DecodeError, match=r"^line 31: resourceSpans: expected an array"):
            ingest_file(par_store, path)
        assert len(_stored(par_store)) == 240  # nothing more
    finally:
        serial.close()
        par_store.close()


def test_fast_span_constructor_builds_the_same_frozen_span() -> None:
    values = [f.default if f.default is not dataclasses.MISSING else f.name for f in
              dataclasses.fields(Span)]  # fmt: skip
    values[8:10] = [1, 2]  # start_ns, end_ns
    built = _new_span(*values)
    assert built == Span(*values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.name = "x"  # type: ignore[misc]
    assert type(built) is Span
    assert pickle.loads(pickle.dumps(built)) == built
    with pytest.raises(TypeError):
        _new_span(*values[:-1])  # every field, always


def test_prepare_normalized_gives_the_rows_of_the_checked_path() -> None:
    spans, evaluations = decode_and_normalize(_bodies(1)[0], content_type=PB)
    assert prepare_normalized(spans, evaluations) == prepare_write(spans, evaluations)


def test_prepare_normalized_still_rejects_unserializable_json_and_bad_evaluations() -> None:
    spans, _ = decode_and_normalize(_bodies(1)[0], content_type=PB)
    bad = dataclasses.replace(spans[1], attributes={"x": object()})
    with pytest.raises(StoreError, match=r"^spans\[1\] .*attributes is not JSON-serializable"):
        prepare_normalized([spans[0], bad])
    with pytest.raises(StoreError, match=r"^evaluations\[0\]"):
        prepare_normalized(spans, ["not an evaluation"])  # type: ignore[list-item]


def test_store_write_still_checks_what_prepare_normalized_trusts(tmp_path: Path) -> None:
    spans, _ = decode_and_normalize(_bodies(1)[0], content_type=PB)
    store = _store(tmp_path, "checked")
    try:
        with pytest.raises(StoreError, match=r"start_ns must be an int"):
            store.write([dataclasses.replace(spans[0], start_ns=1.5)])
        assert _stored(store) == []
    finally:
        store.close()


def test_write_normalized_uses_plain_write_on_stores_without_prepared_rows(
    tmp_path: Path,
) -> None:
    spans, evaluations = decode_and_normalize(_bodies(1)[0], content_type=PB)
    store = _store(tmp_path, "plain")
    calls: list[int] = []

    class PlainStore:
        def write(self, s: list[Span], e: list[object]) -> object:
            calls.append(len(s))
            return store.write(s, e)  # type: ignore[arg-type]

    try:
        assert write_normalized(PlainStore(), spans, evaluations).inserted == 6  # type: ignore[arg-type]
        assert calls == [6]
        assert write_normalized(store, spans, evaluations).duplicates == 6
        assert store.verify().ok
    finally:
        store.close()


def test_start_brings_every_worker_up_before_any_request() -> None:
    with IngestPool(workers=2) as pool:
        assert pool._executor is None  # lazily: nothing runs before start or submit
        pool.start()
        executor = pool._executor
        assert executor is not None
        pids = sorted(executor._processes)  # type: ignore[attr-defined]
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, 0)  # alive
        pool.start()  # idempotent: the same workers
        assert sorted(executor._processes) == pids  # type: ignore[attr-defined]
        assert pool.submit(_bodies(1)[0], content_type=PB).result(30).spans == 6
