"""The traces page's query over a real SQLite store: order, pages, narrowing, samplers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.store._factory import make_eval, make_span, sid, tid

from tracejudge.errors import ConfigurationError, FilterSyntaxError
from tracejudge.server.ui.trace_list import (
    Sampler,
    Sort,
    TraceListQuery,
    eval_chips,
    list_trace_page,
    verdict_of,
)
from tracejudge.store import open_store
from tracejudge.store.review import SQLiteReviewStore
from tracejudge.store.sqlite import SQLiteStore

N = 30


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """30 two-span traces: trace i starts at i*100 ms, lasts (i*7 % 30) ms, uses i tokens;
    every 3rd has a TOOL span; every 5th failed groundedness; trace 31 is a judge's trace."""
    s = open_store(tmp_path / "list.db")
    assert isinstance(s, SQLiteStore)
    spans, evals = [], []
    for i in range(1, N + 1):
        dur = (i * 7) % 30 + 1
        spans.append(
            make_span(i, i * 100, start_ms=i * 100, dur_ms=dur, kind="AGENT", name="agent",
                      input=f"question {i}" + (" about refunds" if i % 4 == 0 else ""),
                      output="x" * i, prompt_tokens=i, completion_tokens=0)
        )  # fmt: skip
        spans.append(
            make_span(i, i * 100 + 1, i * 100, start_ms=i * 100, dur_ms=1,
                      kind="TOOL" if i % 3 == 0 else "LLM", input=None, output=None)
        )  # fmt: skip
        evals.append(
            make_eval(i, i, i * 100, name="groundedness", label="fail" if i % 5 == 0 else "pass")
        )
    spans.append(make_span(31, 3100, start_ms=3100, kind="EVALUATOR", name="judge"))
    s.write(spans, evals)
    yield s
    s.close()


def _ids(store: SQLiteStore, **kw: object) -> list[int]:
    page = list_trace_page(store, TraceListQuery("shop", **kw))  # type: ignore[arg-type]
    return [int(r.trace_id, 16) for r in page.rows]


def test_newest_first_without_judge_traces_unless_asked(store: SQLiteStore) -> None:
    assert _ids(store) == list(range(N, 0, -1))
    assert _ids(store, judges=True) == [31, *range(N, 0, -1)]


def test_sorts(store: SQLiteStore) -> None:
    by_latency = _ids(store, sort=Sort.LATENCY)
    latencies = [(i * 7) % 30 + 1 for i in by_latency]
    assert latencies == sorted(latencies, reverse=True) and len(by_latency) == N
    assert _ids(store, sort=Sort.TOKENS) == list(range(N, 0, -1))
    assert _ids(store, sort=Sort.LENGTH)[:3] == [30, 29, 28]


@pytest.mark.parametrize("sort", list(Sort))
def test_keyset_pages_cover_every_trace_once(store: SQLiteStore, sort: Sort) -> None:
    seen: list[str] = []
    after = None
    for _ in range(N):
        page = list_trace_page(store, TraceListQuery("shop", sort=sort, limit=7, after=after))
        seen.extend(r.trace_id for r in page.rows)
        after = page.next_cursor
        if after is None:
            break
    assert len(seen) == len(set(seen)) == N
    assert seen == [
        r.trace_id for r in list_trace_page(store, TraceListQuery("shop", sort=sort)).rows
    ]


def test_filter_and_keyword_search(store: SQLiteStore) -> None:
    assert _ids(store, filter='kind == "TOOL"') == [i for i in range(N, 0, -1) if i % 3 == 0]
    assert _ids(store, search="REFUNDS") == [i for i in range(N, 0, -1) if i % 4 == 0]
    assert _ids(store, search="100%") == []  # LIKE wildcards are literal
    with pytest.raises(FilterSyntaxError) as e:
        list_trace_page(store, TraceListQuery("shop", filter="kind =="))
    assert e.value.position > 0


def test_samplers(store: SQLiteStore) -> None:
    assert _ids(store, sampler=Sampler.FAILED) == [i for i in range(N, 0, -1) if i % 5 == 0]
    assert _ids(store, sampler=Sampler.SLOW) == _ids(store, sort=Sort.LATENCY)
    assert _ids(store, sampler=Sampler.LONG) == _ids(store, sort=Sort.LENGTH)
    one = _ids(store, sampler=Sampler.RANDOM, seed=1, limit=10)
    assert one == _ids(store, sampler=Sampler.RANDOM, seed=1, limit=10)  # deterministic
    assert one != _ids(store, sampler=Sampler.RANDOM, seed=2, limit=10)
    assert len(set(one)) == 10
    review = SQLiteReviewStore(store.path)
    review.annotate("shop", tid(4), "ada", label="pass")
    review.annotate("shop", tid(5), "ada", note="only a note, no label yet")
    unlabelled = _ids(store, sampler=Sampler.UNLABELLED)
    assert 4 not in unlabelled and 5 in unlabelled and len(unlabelled) == N - 1


def test_unlabelled_sampler_agrees_with_the_review_store(store: SQLiteStore) -> None:
    """Only each annotator's current state counts: a label cleared by undo is unlabelled,
    a label replaced by a note-only state is unlabelled, another annotator's label counts,
    span-level labels do not; queue progress and unlabelled-only queues say the same."""
    review = SQLiteReviewStore(store.path)
    review.annotate("shop", tid(1), "ada", label="fail")
    review.undo("shop", tid(1), "ada")  # cleared: unlabelled again
    review.annotate("shop", tid(2), "ada", label="pass")
    review.annotate("shop", tid(2), "ada", note="not sure any more")  # label taken away
    review.annotate("shop", tid(3), "ada", label="pass")
    review.annotate("shop", tid(3), "bob", note="agree")  # ada's label still current
    review.annotate("shop", tid(6), "ada", label="fail", span_id=sid(601))
    review.annotate("shop", tid(7), "ada", label="defer")
    review.annotate("shop", tid(7), "ada", label="pass")
    labelled = {3, 7}
    unlabelled = _ids(store, sampler=Sampler.UNLABELLED)
    assert unlabelled == [i for i in range(N, 0, -1) if i not in labelled]
    queue = review.create_queue("shop", "all", filter='kind == "AGENT"', limit=N)
    assert review.progress(queue.id).labelled == len(labelled)
    current = {
        int(a.trace_id, 16) for a in review.current("shop", trace_level_only=True) if a.label
    }
    assert current == labelled
    fresh = review.create_queue("shop", "todo", filter='kind == "AGENT"', unlabelled_only=True)
    assert [int(t, 16) for t in fresh.items] == unlabelled


def test_verdict_chips(store: SQLiteStore) -> None:
    page = list_trace_page(store, TraceListQuery("shop", limit=5))
    chips = page.verdicts[tid(30)]
    assert [(c.name, c.verdict) for c in chips] == [("groundedness", "fail")]
    assert page.verdicts[tid(29)][0].verdict == "pass"
    mixed = [
        make_eval(1, 1, 1, name="tone", label="fail"),
        make_eval(2, 1, 2, name="tone", label="pass"),
        make_eval(3, 1, 1, name="judge", label=None, score=None, error="timeout"),
        make_eval(4, 1, 1, name="style", label="formal", score=None),
    ]
    assert [(c.name, c.verdict, c.passed, c.failed) for c in eval_chips(mixed)] == [
        ("judge", "error", 0, 0),
        ("style", "other", 0, 0),
        ("tone", "fail", 1, 1),
    ]
    assert verdict_of(make_eval(5, 1, 1, label=None, score=0.2)) == "fail"


def test_bad_cursor_and_limit(store: SQLiteStore) -> None:
    for query in (
        TraceListQuery("shop", after="nope"),
        TraceListQuery("shop", limit=0),
        TraceListQuery("shop", limit=10_000),
    ):
        with pytest.raises(ConfigurationError):
            list_trace_page(store, query)


def test_ranked_orders_rank_only_the_newest_window(store: SQLiteStore) -> None:
    # The newest 10 are the judge trace 31 (not listed) and traces 22..30.
    page = list_trace_page(store, TraceListQuery("shop", sort=Sort.LATENCY, window=10))
    assert page.window == 10
    assert {int(r.trace_id, 16) for r in page.rows} == set(range(22, N + 1))
    assert list_trace_page(store, TraceListQuery("shop")).window is None
    assert len(_ids(store, sort=Sort.LATENCY, window=None)) == N
