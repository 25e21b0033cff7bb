"""Fixtures for capture tests: a fresh, non-global provider per test.

``memory`` exports synchronously into the OTel SDK's own ``InMemorySpanExporter`` so
assertions see finished spans at once; the real exporters are exercised in their own tests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture


class HeldLock:
    """Another connection holding SQLite's exclusive lock on the database file (a store
    locked by some other process), until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class Spans:
    """Finished spans of one test, by name."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    @property
    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.all if s.name == name]
        assert len(found) == 1, (
            f"expected one span named {name!r}, got {[s.name for s in self.all]}"
        )
        return found[0]

    def attrs(self, name: str) -> dict[str, Any]:
        return dict(self.one(name).attributes or {})


@pytest.fixture
def memory() -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    capture.register("test-project", span_exporter=exporter, set_global=False, batch=False)
    yield Spans(exporter)
    capture.shutdown()
