"""The ``Store`` protocol: the only way tracejudge reads and writes records.

Implementations: :mod:`tracejudge.store.sqlite` (embedded default). Every method may
block on I/O; none of them is called on the host application's thread by the capture
SDK (the exporter runs on the batch processor's worker thread).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tracejudge.errors import ConfigurationError
from tracejudge.model import Evaluation, Span, TraceSummary, WriteResult

__all__ = ["Store", "VerifyReport", "tables_required"]


@contextmanager
def tables_required(path: str, tables: str) -> Iterator[None]:
    """Turn SQLite's "no such table" into a :class:`ConfigurationError` that says what to do.

    The key, task and review stores open the store's file directly; on a file that
    ``open_store`` never migrated their first query fails with a bare OperationalError.
    """
    try:
        yield
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            raise ConfigurationError(
                f"{path} has no {tables}: open it with open_store() first"
            ) from e
        raise


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of recomputing every span's content hash."""

    checked: int = 0
    mismatches: tuple[tuple[int, str, str], ...] = field(default=())  # (ingest_seq, trace, span)

    @property
    def ok(self) -> bool:
        return not self.mismatches


@runtime_checkable
class Store(Protocol):
    """Write-once storage of spans plus append-only evaluations."""

    def write(self, spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()) -> WriteResult:
        """Store spans and evaluations in one transaction (all or nothing).

        Spans already stored with the same content hash are skipped (``duplicates``);
        spans already stored with a different hash keep the first version and are
        reported in ``conflicts``. Evaluations with an id already stored are skipped.
        Returns once the transaction is committed (durable).
        """
        ...

    def trace_spans(self, trace_id: str, project: str | None = None) -> list[Span]:
        """All spans of a trace (any order); empty if unknown."""
        ...

    def span(self, span_id: str, project: str | None = None) -> Span | None:
        """One span by id, or None."""
        ...

    def list_traces(
        self, project: str, *, limit: int = 50, before: int | None = None
    ) -> list[TraceSummary]:
        """Traces of a project, newest start first; ``before`` is a start_ns cursor."""
        ...

    def list_spans(
        self,
        project: str | None = None,
        *,
        kind: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
        after_seq: int | None = None,
        filter: str | None = None,
    ) -> list[Span]:
        """Spans in ingest order (``ingest_seq`` ascending), after a cursor.

        ``filter`` is a span filter expression (:mod:`tracejudge.query.filter`), passed as
        text so a remote store can send it on; a bad one raises ``FilterSyntaxError``
        before anything is read. It narrows the other conditions, never widens them.
        """
        ...

    def evaluations(
        self, *, span_id: str | None = None, trace_id: str | None = None
    ) -> list[Evaluation]:
        """Evaluations of one span or of every span of a trace, oldest first."""
        ...

    def projects(self) -> list[str]:
        """Project names that have at least one span."""
        ...

    def verify(self) -> VerifyReport:
        """Recompute every span's content hash from its stored columns."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
