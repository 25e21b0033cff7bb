"""``Client.review``: the same review methods on an embedded store and over a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.server.conftest import run_server

from store._factory import tid
from tracejudge.client import Client
from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound
from tracejudge.review_client import RemoteReviewStore
from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.review import SQLiteReviewStore
from tracejudge.store.sqlite import SQLiteStore


def _walk_through(client: Client, annotator: str | None) -> None:
    review = client.review
    cat = review.create_category("shop", "Tone", "curt or rude")
    first = review.annotate("shop", tid(1), annotator, label="fail", failure_modes=["tone"])
    assert first.failure_modes == (cat.id,)
    review.annotate("shop", tid(1), annotator, label="fail", note="curt", failure_modes=["tone"])
    assert review.undo("shop", tid(1), annotator).note is None
    queue = review.create_queue("shop", "q", filter='kind == "LLM"', limit=3)
    assert queue.items == (tid(12), tid(10), tid(8))
    got = review.next_item(queue.id, annotator)
    assert got == tid(12)
    review.annotate("shop", got, annotator, label="pass", queue_id=queue.id)
    assert str(review.progress(queue.id)) == "1 of 3 labelled"
    assert [q.id for q in review.queues("shop")] == [queue.id]
    tax = review.taxonomy("shop")
    assert (tax.reviewed, tax.counts[0].traces, tax.counts[0].rate) == (2, 1, 0.5)
    assert [a.label for a in review.current("shop", trace_ids=[tid(1)])] == ["fail"]
    assert [a.action for a in review.history("shop", tid(1))] == ["set", "set", "undo"]
    with pytest.raises(FilterSyntaxError):
        review.create_queue("shop", "bad", filter="kind ==")
    with pytest.raises(ConfigurationError, match="label"):
        review.annotate("shop", tid(2), annotator, label="maybe")
    with pytest.raises(NotFound):
        review.queue("0" * 32)


def test_embedded_store(db_path: Path) -> None:
    with Client(db_path) as client:
        assert isinstance(client.review, SQLiteReviewStore)
        _walk_through(client, "ana")


def test_over_a_server_with_a_key(db_path: Path) -> None:
    _, key = SQLiteKeyStore(db_path).create("shop", "ana")
    store = open_store(db_path)
    assert isinstance(store, SQLiteStore)
    try:
        with run_server(store) as url, Client(url=url, api_key=key) as client:
            assert isinstance(client.review, RemoteReviewStore)
            _walk_through(client, None)  # the key's name is the annotator
            assert {a.annotator for a in client.review.current("shop")} == {"ana"}
    finally:
        store.close()
