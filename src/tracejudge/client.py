"""``Client``: the read API over a store — list traces, open one, fetch spans and scores.

Example::

    from tracejudge.client import Client

    with Client() as client:                       # the default embedded store
        for summary in client.traces("shop", limit=20):
            print(summary.name, summary.status, summary.latency_ms)
        trace = client.trace(summary.trace_id)
        for depth, span in trace.walk():
            print("  " * depth, span.kind, span.name)
"""

from __future__ import annotations

import os
from types import TracebackType

from tracejudge.errors import ConfigurationError, SpanNotFound, TraceNotFound
from tracejudge.model import Evaluation, Span, Trace, TraceSummary
from tracejudge.review_client import ReviewMethods
from tracejudge.store import open_store
from tracejudge.store.base import Store, VerifyReport
from tracejudge.tasks_client import TaskMethods

__all__ = ["Client"]


class Client(TaskMethods, ReviewMethods):
    """Read access to stored traces, spans and evaluations, and eval tasks
    (``create_task``, ``tasks``, ``task``, ``apply_task``: see :mod:`tracejudge.tasks_client`),
    and human review (``client.review``: see :mod:`tracejudge.review_client`).

    Parameters:
        db: None for the default store (``$TRACEJUDGE_HOME/tracejudge.db``), a path or
            ``sqlite:///`` URL to open, or an already open :class:`Store` (which the
            client then does not close: whoever opened it owns it).
        url: a tracejudge server (``http://127.0.0.1:6464``) to read instead of ``db``.
        api_key: the project key sent to ``url``.

    Raises:
        ConfigurationError: ``db`` names no usable store, or both ``db`` and ``url``.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | Store | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self._store: Store
        if url is not None:  # a tracejudge server: the same methods over its REST API
            if db is not None:
                raise ConfigurationError("db and url: give one (a store or a server), not both")
            from tracejudge.remote import RemoteStore

            self._store = RemoteStore(url, api_key)
            self._owns_store = True
        elif isinstance(db, Store):
            self._store = db
            self._owns_store = False
        else:
            self._store = open_store(db)
            self._owns_store = True

    @property
    def store(self) -> Store:
        """The underlying store (for writes or lower-level reads)."""
        return self._store

    def traces(
        self, project: str, limit: int = 50, before: int | None = None
    ) -> list[TraceSummary]:
        """Trace summaries of ``project``, newest first.

        Page with ``before``: pass the ``start_ns`` of the last summary of the previous
        page to get the traces that started strictly earlier.
        """
        return self._store.list_traces(project, limit=limit, before=before)

    def trace(self, trace_id: str, project: str | None = None) -> Trace:
        """Every stored span of one trace, as a tree.

        Spans whose parent has not arrived yet are listed in ``Trace.orphans``.
        Raises :class:`TraceNotFound` if no span of the trace is stored (in ``project``).
        """
        spans = self._store.trace_spans(trace_id, project)
        if not spans:
            where = f" in project {project!r}" if project is not None else ""
            raise TraceNotFound(f"no trace {trace_id!r}{where}")
        return Trace(trace_id=trace_id, spans=tuple(spans))

    def span(self, span_id: str, project: str | None = None) -> Span:
        """One span by id. Raises :class:`SpanNotFound`."""
        span = self._store.span(span_id, project)
        if span is None:
            where = f" in project {project!r}" if project is not None else ""
            raise SpanNotFound(f"no span {span_id!r}{where}")
        return span

    def spans(
        self,
        project: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_seq: int | None = None,
        filter: str | None = None,
    ) -> list[Span]:
        """Spans in ingest order; pass the last span's ``ingest_seq`` as ``after_seq`` to page.

        ``filter``: a span filter such as ``'kind == "LLM" and latency_ms > 2000'`` (see
        :mod:`tracejudge.query.filter`), applied by the store (the server, for a remote
        one). Raises :class:`FilterSyntaxError`, with its position, for a bad one.
        """
        return self._store.list_spans(
            project, kind=kind, limit=limit, after_seq=after_seq, filter=filter
        )

    def evaluations(
        self, *, span_id: str | None = None, trace_id: str | None = None
    ) -> list[Evaluation]:
        """Evaluations of one span, or of every span of one trace, oldest first.

        Raises :class:`ConfigurationError` unless exactly one of the two is given.
        """
        if (span_id is None) == (trace_id is None):
            raise ConfigurationError("evaluations() takes exactly one of span_id or trace_id")
        return self._store.evaluations(span_id=span_id, trace_id=trace_id)

    def projects(self) -> list[str]:
        """Names of projects with at least one stored span."""
        return self._store.projects()

    def verify(self) -> VerifyReport:
        """Recompute every stored span's content hash; see :class:`VerifyReport`."""
        return self._store.verify()

    def close(self) -> None:
        """Close the store if this client opened it. Idempotent."""
        if self._owns_store:
            self._store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
