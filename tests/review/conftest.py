from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store._factory import make_span
from tracejudge.store.review import SQLiteReviewStore
from tracejudge.store.sqlite import SQLiteStore


class Clock:
    """A settable clock: each read advances 1 ms so records are strictly ordered."""

    def __init__(self, start_ns: int = 1_800_000_000_000_000_000) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    """A migrated store file with 12 traces in 'shop' (trace n starts at n s; trace 1..12,
    each a root span n*10 and a child n*10+1 of kind LLM for even n) and 1 in 'other'."""
    path = tmp_path / "review.db"
    with SQLiteStore(path) as store:
        spans = []
        for n in range(1, 13):
            spans.append(make_span(n, n * 10, start_ms=n * 1000))
            kind = "LLM" if n % 2 == 0 else "TOOL"
            spans.append(make_span(n, n * 10 + 1, n * 10, start_ms=n * 1000 + 1, kind=kind))
        spans.append(make_span(99, 990, project="other"))
        store.write(spans)
    yield path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def review(db_path: Path, clock: Clock) -> SQLiteReviewStore:
    return SQLiteReviewStore(db_path, clock=clock)
