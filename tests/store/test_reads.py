"""Reads: trace summaries (also when the root arrives last), paging, spans, evaluations."""

from __future__ import annotations

import pytest

from tracejudge.errors import ConfigurationError, StoreError
from tracejudge.model import SpanKind, StatusCode, TraceSummary
from tracejudge.store.schema import TRACE_COLUMNS
from tracejudge.store.sqlite import PREVIEW_CHARS, SQLiteStore, summary_from_row

from ._factory import T0, make_eval, make_span, sid, tid

MS = 1_000_000


def _trace_1() -> list:
    """root 1 (0-100ms) -> llm 2 (10-40ms, ERROR), tool 3 (50-120ms) -> llm 4 (60-70ms)."""
    return [
        make_span(1, 1, None, start_ms=0, dur_ms=100, name="agent", kind="AGENT",
                  input="q" * 300, output="short answer"),
        make_span(1, 2, 1, start_ms=10, dur_ms=30, kind="LLM", status="ERROR",
                  status_message="rate limited", prompt_tokens=100, completion_tokens=7),
        make_span(1, 3, 1, start_ms=50, dur_ms=70, kind="TOOL"),
        make_span(1, 4, 3, start_ms=60, dur_ms=10, kind="LLM", prompt_tokens=20,
                  completion_tokens=3),
    ]  # fmt: skip


EXPECTED_SUMMARY = TraceSummary(
    trace_id=tid(1),
    project="shop",
    root_span_id=sid(1),
    name="agent",
    input_preview="q" * PREVIEW_CHARS + "…",
    output_preview="short answer",
    start_ns=T0,
    end_ns=T0 + 120 * MS,
    status="ERROR",
    span_count=4,
    prompt_tokens=120,
    completion_tokens=10,
)


def test_trace_summary_fields(store: SQLiteStore) -> None:
    store.write(_trace_1())
    [summary] = store.list_traces("shop")
    assert summary == EXPECTED_SUMMARY
    assert summary.latency_ms == 120.0
    assert summary.total_tokens == 130


@pytest.mark.parametrize("order", [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
def test_summary_is_right_whatever_the_arrival_order(store: SQLiteStore, order: list[int]) -> None:
    spans = _trace_1()
    for i in order:  # one write per span, root anywhere in the sequence
        store.write([spans[i]])
    assert store.list_traces("shop") == [EXPECTED_SUMMARY]


def test_summary_before_root_arrives(store: SQLiteStore) -> None:
    spans = _trace_1()
    store.write([spans[3], spans[2]])
    [summary] = store.list_traces("shop")
    assert (summary.root_span_id, summary.name, summary.input_preview) == (None, None, None)
    assert (summary.span_count, summary.status) == (2, "OK")
    assert (summary.start_ns, summary.end_ns) == (T0 + 50 * MS, T0 + 120 * MS)


def test_trace_spans_in_start_order_and_project_filter(store: SQLiteStore) -> None:
    spans = _trace_1()
    store.write(list(reversed(spans)))
    assert [s.span_id for s in store.trace_spans(tid(1))] == [sid(n) for n in (1, 2, 3, 4)]
    assert store.trace_spans(tid(1), project="other") == []
    assert store.trace_spans(tid(99)) == []


def test_list_traces_newest_first_with_before_cursor(store: SQLiteStore) -> None:
    # Traces 1..7 start 1 s apart; trace 8 is in another project.
    store.write([make_span(n, 1, start_ms=n * 1000) for n in range(1, 8)])
    store.write([make_span(8, 1, start_ms=99_000, project="other")])
    page1 = store.list_traces("shop", limit=3)
    assert [s.trace_id for s in page1] == [tid(7), tid(6), tid(5)]
    page2 = store.list_traces("shop", limit=3, before=page1[-1].start_ns)
    assert [s.trace_id for s in page2] == [tid(4), tid(3), tid(2)]
    page3 = store.list_traces("shop", limit=3, before=page2[-1].start_ns)
    assert [s.trace_id for s in page3] == [tid(1)]
    assert store.list_traces("shop", before=T0) == []
    assert [s.trace_id for s in store.list_traces("other")] == [tid(8)]
    assert store.list_traces("nobody") == []


@pytest.mark.parametrize("limit", [0, -1, 2.5, None])
def test_bad_limit_is_a_configuration_error(store: SQLiteStore, limit: object) -> None:
    with pytest.raises(ConfigurationError, match="limit"):
        store.list_traces("shop", limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="limit"):
        store.list_spans(limit=limit)  # type: ignore[arg-type]


def test_list_spans_filters_and_ingest_cursor(store: SQLiteStore) -> None:
    store.write(_trace_1())
    store.write([make_span(2, 1, kind="LLM", project="other")])
    everything = store.list_spans()
    assert [s.ingest_seq for s in everything] == [1, 2, 3, 4, 5]
    assert [s.span_id for s in store.list_spans("shop", kind="LLM")] == [sid(2), sid(4)]
    assert [s.trace_id for s in store.list_spans(kind="LLM", after_seq=2)] == [tid(1), tid(2)]
    assert [s.ingest_seq for s in store.list_spans(limit=2, after_seq=2)] == [3, 4]
    assert [s.ingest_seq for s in store.list_spans(trace_id=tid(2))] == [5]
    assert store.list_spans("shop", after_seq=4) == []


def test_span_by_id_and_project(store: SQLiteStore) -> None:
    store.write(_trace_1())
    assert store.span(sid(2)).status_message == "rate limited"  # type: ignore[union-attr]
    assert store.span(sid(2), project="other") is None
    assert store.span(sid(42)) is None


def test_span_round_trips_every_field(store: SQLiteStore) -> None:
    span = make_span(
        1, 1, otel_kind="SERVER", tags=("a", "b"), links=[{"trace_id": tid(2), "span_id": sid(2),
        "attributes": {}}], model="gpt", provider="openai", session_id="s", user_id="u",
        attributes={"unicode": "héllo ✓", "f": 0.1, "list": [1, "x", None], "b": True},
    )  # fmt: skip
    store.write([span])
    got = store.span(sid(1))
    assert got is not None
    for name in span.__dataclass_fields__:
        if name not in ("content_hash", "ingest_seq", "ingested_at_ns"):
            assert getattr(got, name) == getattr(span, name), name
    assert store.verify().ok


def test_evaluations_by_span_and_by_trace(store: SQLiteStore) -> None:
    store.write(_trace_1())
    store.write(
        [],
        [
            make_eval(1, 1, 2, created_ms=30, name="groundedness"),
            make_eval(2, 1, 1, created_ms=10),
            make_eval(3, 1, 2, created_ms=20, label="fail", score=0.0),
            make_eval(4, 2, 1, created_ms=5),
        ],
    )
    assert [e.id for e in store.evaluations(span_id=sid(2))] == ["eval-3", "eval-1"]
    assert [e.id for e in store.evaluations(trace_id=tid(1))] == ["eval-2", "eval-3", "eval-1"]
    assert store.evaluations(trace_id=tid(1), span_id=sid(1))[0].id == "eval-2"
    assert store.evaluations(span_id=sid(42)) == []
    with pytest.raises(ConfigurationError, match="span_id or trace_id"):
        store.evaluations()


def test_projects(store: SQLiteStore) -> None:
    assert store.projects() == []
    store.write([make_span(1, 1, project="zeta"), make_span(2, 1, project="alpha")])
    store.write([make_span(3, 1, project="zeta")])
    assert store.projects() == ["alpha", "zeta"]


def test_span_lookup_across_many_id_buckets(store: SQLiteStore, monkeypatch) -> None:
    # 2-span buckets, so 40 spans written in 8 batches land in many buckets.
    monkeypatch.setattr("tracejudge.store.sqlite.SPAN_BUCKET_BITS", 1)
    for batch in range(8):
        store.write([make_span(batch + 1, batch * 10 + n) for n in range(1, 6)])
    for batch in range(8):
        for n in range(1, 6):
            found = store.span(sid(batch * 10 + n))
            assert found is not None and found.trace_id == tid(batch + 1)
    assert store.span(sid(9999)) is None


def test_enum_members_are_stored_as_plain_strings(store: SQLiteStore) -> None:
    store.write([make_span(1, 1, kind=SpanKind.LLM, status=StatusCode.ERROR)])
    got = store.span(sid(1))
    assert got is not None
    assert (type(got.kind), got.kind, got.status) == (str, "LLM", "ERROR")
    assert store.list_traces("shop")[0].status == "ERROR"
    assert store.verify().ok


def test_trace_with_spans_in_two_projects_is_listed_under_the_first(store: SQLiteStore) -> None:
    store.write([make_span(1, 2, 1, project="b")])
    store.write([make_span(1, 1, project="a")])
    assert [t.span_count for t in store.list_traces("b")] == [2]
    assert store.list_traces("a") == []
    assert [s.span_id for s in store.trace_spans(tid(1), project="a")] == [sid(1)]
    assert len(store.trace_spans(tid(1))) == 2
    assert store.projects() == ["a", "b"]


def test_query_reads_rows_and_refuses_to_write(store: SQLiteStore) -> None:
    store.write(_trace_1())
    rows = store.query(f"SELECT {', '.join(TRACE_COLUMNS)} FROM traces WHERE project = ?", ["shop"])
    assert [summary_from_row(r) for r in rows] == [EXPECTED_SUMMARY]
    with pytest.raises(StoreError, match="readonly"):
        store.query("DELETE FROM traces")
    with pytest.raises(StoreError, match="readonly"):
        store.query("CREATE TABLE scratch (x)")
    assert store.list_traces("shop") == [EXPECTED_SUMMARY]
    assert not store.query("SELECT 1 FROM sqlite_master WHERE name = 'scratch'")
