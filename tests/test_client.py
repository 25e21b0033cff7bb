"""Client: the read API users call, over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store._factory import CLOCK_NS, T0, make_eval, make_span, sid, tid
from tracejudge.client import Client
from tracejudge.errors import ConfigurationError, SpanNotFound, StoreError, TraceNotFound
from tracejudge.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "c.db", clock=lambda: CLOCK_NS) as s:
        yield s


@pytest.fixture
def client(store: SQLiteStore) -> Client:
    return Client(store)


def test_trace_tree_and_orphans_while_arriving_out_of_order(
    client: Client, store: SQLiteStore
) -> None:
    # Grandchild and child first; their parents come in later writes.
    store.write([make_span(1, 4, 3, start_ms=60), make_span(1, 2, 1, start_ms=10)])
    trace = client.trace(tid(1))
    assert trace.root is None
    assert [s.span_id for s in trace.orphans] == [sid(2), sid(4)]

    store.write([make_span(1, 3, 1, start_ms=50)])
    trace = client.trace(tid(1))
    assert [s.span_id for s in trace.orphans] == [sid(2), sid(3)]
    assert [s.span_id for s in trace.children(sid(3))] == [sid(4)]

    store.write([make_span(1, 1, None, start_ms=0, dur_ms=100)])
    trace = client.trace(tid(1))
    assert trace.orphans == []
    assert [(depth, s.span_id) for depth, s in trace.walk()] == [
        (0, sid(1)),
        (1, sid(2)),
        (1, sid(3)),
        (2, sid(4)),
    ]
    [summary] = client.traces("shop")
    assert (summary.root_span_id, summary.span_count, summary.latency_ms) == (sid(1), 4, 100.0)


def test_trace_not_found(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(1, 1)])
    with pytest.raises(TraceNotFound, match=tid(2)):
        client.trace(tid(2))
    with pytest.raises(TraceNotFound, match="project 'other'"):
        client.trace(tid(1), project="other")
    assert len(client.trace(tid(1), project="shop")) == 1


def test_span_and_span_not_found(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(1, 1), make_span(1, 2, 1, name="child")])
    assert client.span(sid(2)).name == "child"
    with pytest.raises(SpanNotFound, match=sid(3)):
        client.span(sid(3))
    with pytest.raises(SpanNotFound):
        client.span(sid(2), project="other")


def test_traces_paging(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(n, 1, start_ms=n) for n in range(1, 6)])
    first = client.traces("shop", limit=2)
    rest = client.traces("shop", limit=10, before=first[-1].start_ns)
    assert [t.trace_id for t in first + rest] == [tid(n) for n in (5, 4, 3, 2, 1)]
    assert rest[-1].start_ns == T0 + 1_000_000


def test_spans_paging_with_after_seq(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(1, n, kind="LLM" if n % 2 else "TOOL") for n in range(1, 8)])
    page = client.spans("shop", kind="LLM", limit=2)
    assert [s.span_id for s in page] == [sid(1), sid(3)]
    page = client.spans("shop", kind="LLM", limit=2, after_seq=page[-1].ingest_seq)
    assert [s.span_id for s in page] == [sid(5), sid(7)]


def test_evaluations_needs_exactly_one_key(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(1, 1), make_span(1, 2, 1)], [make_eval(1, 1, 2), make_eval(2, 1, 1)])
    assert [e.id for e in client.evaluations(span_id=sid(2))] == ["eval-1"]
    assert {e.id for e in client.evaluations(trace_id=tid(1))} == {"eval-1", "eval-2"}
    with pytest.raises(ConfigurationError, match="exactly one"):
        client.evaluations()
    with pytest.raises(ConfigurationError, match="exactly one"):
        client.evaluations(span_id=sid(1), trace_id=tid(1))


def test_projects_and_verify(client: Client, store: SQLiteStore) -> None:
    store.write([make_span(1, 1, project="b"), make_span(2, 1, project="a")])
    assert client.projects() == ["a", "b"]
    report = client.verify()
    assert (report.checked, report.ok) == (2, True)


def test_client_opens_and_closes_its_own_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRACEJUDGE_HOME", str(tmp_path / "home"))
    with Client() as client:
        client.store.write([make_span(1, 1)])
        assert client.traces("shop")[0].trace_id == tid(1)
    with pytest.raises(StoreError, match="closed"):
        client.traces("shop")
    with Client(f"sqlite:///{tmp_path / 'home' / 'tracejudge.db'}") as again:
        assert len(again.trace(tid(1))) == 1


def test_client_leaves_a_given_store_open(store: SQLiteStore) -> None:
    with Client(store) as client:
        assert client.store is store
    assert store.write([make_span(1, 1)]).inserted == 1  # still usable


def test_postgres_is_not_supported_yet() -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        Client("postgresql://localhost/tj")
