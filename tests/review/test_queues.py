"""Review queues: built from a filter or a seeded sample; shared without collisions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from store._factory import tid
from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound
from tracejudge.review.queues import Claim, pick_next
from tracejudge.store.review import SQLiteReviewStore

from .conftest import Clock


def test_filter_queue_holds_matching_traces_newest_first(review: SQLiteReviewStore) -> None:
    queue = review.create_queue("shop", "llm traces", filter='kind == "LLM"', created_by="ana")
    assert queue.items == tuple(tid(n) for n in (12, 10, 8, 6, 4, 2))
    assert (queue.source, queue.seed, queue.created_by) == ('kind == "LLM"', None, "ana")
    assert review.queue(queue.id) == queue
    assert review.queues("shop") == [queue]
    assert review.create_queue("shop", "top 2", filter='kind == "LLM"', limit=2).items == (
        tid(12),
        tid(10),
    )


def test_sample_is_repeatable_from_its_seed_and_skips_labelled(
    review: SQLiteReviewStore,
) -> None:
    review.annotate("shop", tid(3), "ana", label="pass")
    review.annotate("shop", tid(5), "ana", note="only a note: still unlabelled")
    a = review.create_queue("shop", "a", sample=5, seed=7, unlabelled_only=True)
    b = review.create_queue("shop", "b", sample=5, seed=7, unlabelled_only=True)
    assert a.items == b.items and len(set(a.items)) == 5
    assert tid(3) not in a.items and tid(99) not in a.items
    assert a.source == "sample" and a.seed == 7
    drawn = review.create_queue("shop", "c", sample=50)  # more than there are: all, shuffled
    assert sorted(drawn.items) == sorted(tid(n) for n in range(1, 13))
    assert drawn.seed is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ConfigurationError, "filter or a sample"),
        ({"filter": "kind =="}, FilterSyntaxError, "position"),
        ({"filter": 'kind == "NOPE"'}, ConfigurationError, "queue would be empty"),
        ({"sample": 0}, ConfigurationError, "sample"),
        ({"sample": True}, ConfigurationError, "sample"),
        ({"filter": 'kind == "LLM"', "limit": 0}, ConfigurationError, "limit"),
        ({"sample": 3, "name": ""}, ConfigurationError, "name"),
    ],
)
def test_bad_queues_are_rejected(
    review: SQLiteReviewStore, kwargs: dict, error: type, match: str
) -> None:
    name = kwargs.pop("name", "q")
    with pytest.raises(error, match=match):
        review.create_queue("shop", name, **kwargs)
    assert review.queues("shop") == []


def test_two_reviewers_share_a_queue_without_collisions(
    review: SQLiteReviewStore, clock: Clock
) -> None:
    queue = review.create_queue("shop", "q", filter='kind == "LLM"')  # 6 items
    seen: list[str] = []
    while True:
        got_a = review.next_item(queue.id, "ana")
        got_b = review.next_item(queue.id, "bo")
        assert got_a is None or got_a != got_b
        for who, item in (("ana", got_a), ("bo", got_b)):
            if item is not None:
                # Asking again before labelling gives the same item back.
                assert review.next_item(queue.id, who) == item
                review.annotate("shop", item, who, label="pass", queue_id=queue.id)
                seen.append(item)
        if got_a is None and got_b is None:
            break
    assert sorted(seen) == sorted(queue.items)  # every item exactly once
    progress = review.progress(queue.id)
    assert (progress.labelled, progress.total, str(progress)) == (6, 6, "6 of 6 labelled")


def test_concurrent_requests_never_hand_out_the_same_item(db_path: Path) -> None:
    review = SQLiteReviewStore(db_path)
    queue = review.create_queue("shop", "q", sample=12, seed=1)
    got: dict[str, str | None] = {}
    barrier = threading.Barrier(8)

    def ask(name: str) -> None:
        barrier.wait()
        got[name] = SQLiteReviewStore(db_path).next_item(queue.id, name)

    threads = [threading.Thread(target=ask, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = [v for v in got.values() if v is not None]
    assert len(items) == 8 and len(set(items)) == 8
    assert review.progress(queue.id).held == 8


def test_an_abandoned_claim_expires(review: SQLiteReviewStore, clock: Clock) -> None:
    queue = review.create_queue("shop", "q", filter='kind == "LLM"', limit=1)
    assert review.next_item(queue.id, "ana", lease_s=60) == tid(12)
    assert review.next_item(queue.id, "bo") is None  # held by ana
    clock.advance(61)
    assert review.next_item(queue.id, "bo") == tid(12)
    review.annotate("shop", tid(12), "bo", label="fail")
    assert review.next_item(queue.id, "ana") is None  # labelled: done


def test_queue_scoping_and_unknown_ids(review: SQLiteReviewStore) -> None:
    queue = review.create_queue("shop", "q", sample=2, seed=3)
    with pytest.raises(NotFound):
        review.queue(queue.id, "other")
    with pytest.raises(NotFound):
        review.next_item("0" * 32, "ana")


def test_pick_next_prefers_the_item_already_held() -> None:
    claims = {"b": Claim("b", "ana", 0, 100), "a": Claim("a", "bo", 0, 100)}
    assert pick_next(["a", "b", "c"], set(), claims, "ana", 50) == ("b", False)
    assert pick_next(["a", "b", "c"], {"b"}, claims, "ana", 50) == ("c", True)
    assert pick_next(["a", "b", "c"], {"b"}, claims, "ana", 150) == ("a", True)
    assert pick_next(["a"], {"a"}, {}, "ana", 0) == (None, False)


def test_judge_traces_stay_out_unless_asked_for(review: SQLiteReviewStore, db_path: Path) -> None:
    from store._factory import make_span
    from tracejudge.store.sqlite import SQLiteStore

    with SQLiteStore(db_path) as store:
        store.write([make_span(50, 500, start_ms=50_000, kind="EVALUATOR")])
    newest = review.create_queue("shop", "all", filter='name != ""', limit=1)
    assert newest.items == (tid(12),)
    with_judges = review.create_queue(
        "shop", "all", filter='name != ""', limit=1, include_judge_traces=True
    )
    assert with_judges.items == (tid(50),)
