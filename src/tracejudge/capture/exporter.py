"""``EmbeddedSpanExporter``: finished spans straight into the local store, no network.

Runs on the batch processor's worker thread (or the thread calling ``flush``), never on
the app's thread. Each batch is converted to RawSpans, normalized exactly like spans that
arrive over OTLP, prepared (validated and serialized, as
:func:`~tracejudge.ingest.pipeline.write_normalized` does) and written in one transaction.

The commit is pipelined: it runs on a writer thread
(:class:`~tracejudge.capture._committer.Committer`) while ``export`` returns and
prepares the next batch, so the CPU work of batch N+1 overlaps batch N's fsync (sqlite
releases the GIL while it waits on the disk). At most one batch is committing while one
is being prepared, so memory stays bounded, and ``force_flush``/``shutdown`` wait for the
commit in flight, so a flush that returned True still means the spans are durable and
queryable. Any failure — the database locked beyond its busy timeout, a full disk, a
bug — is logged (rate-limited), counted and the batch dropped; nothing is raised to the
caller.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracejudge.capture._committer import Committer
from tracejudge.capture.convert import to_raw_spans
from tracejudge.ingest.normalize import normalize
from tracejudge.model import Evaluation, Span, WriteResult
from tracejudge.store.base import Store
from tracejudge.store.prepared import prepare_normalized, prepare_write

__all__ = ["EmbeddedSpanExporter"]

_log = logging.getLogger(__name__)
_LOG_EVERY_S = 10.0  # at most one failure log line per interval; the rest are counted


class EmbeddedSpanExporter(SpanExporter):
    """An OpenTelemetry ``SpanExporter`` that writes into a tracejudge :class:`Store`.

    Example::

        exporter = EmbeddedSpanExporter("my-app", db="traces.db")
        provider.add_span_processor(BatchSpanProcessor(exporter))

    Parameters:
        project: project every span is stored under.
        store: an open store to write to (the exporter does not own it), or None to open
            ``db`` lazily on the first export (on the worker thread, so a slow or locked
            database file never delays ``register``); then the exporter owns it.
        db: path or ``sqlite:///`` URL for :func:`tracejudge.store.open_store`.
        store_factory: how to open ``db`` (default ``open_store``); for tests.
        pipelined: commit on a writer thread while the next batch is prepared (default).
            ``export`` then returns SUCCESS once the batch is prepared and handed over
            (a commit that fails later is counted and logged); call ``force_flush`` to
            wait for durability. False commits inside ``export`` (for
            ``SimpleSpanProcessor``, which promises the span is stored when it ends).

    Counters (read any time): ``exported_spans`` (committed), ``dropped_spans``,
    ``failed_batches``.
    """

    def __init__(
        self,
        project: str,
        store: Store | None = None,
        *,
        db: str | os.PathLike[str] | None = None,
        store_factory: Callable[[str | os.PathLike[str] | None], Store] | None = None,
        pipelined: bool = True,
    ) -> None:
        self.project = project
        # Records are checked again on write unless the project is a proper name (what
        # register() enforces): normalize's output is then known to be well-formed.
        self._checked_write = not (isinstance(project, str) and project)
        self._store = store
        self._owns_store = store is None
        self._db = db
        self._factory = store_factory
        self._committer = Committer() if pipelined else None
        self._lock = threading.Lock()  # one export at a time; shutdown waits for it
        self._count_lock = threading.Lock()  # counters change on two threads
        self._shutdown = False
        self._last_log = 0.0
        self._unlogged = 0
        self.exported_spans = 0
        self.dropped_spans = 0
        self.failed_batches = 0

    def _open(self) -> Store:
        if self._store is None:
            factory = self._factory
            if factory is None:
                from tracejudge.store import open_store

                factory = open_store
            self._store = factory(self._db)
        return self._store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Prepare ``spans`` and commit them in one transaction; FAILURE (logged) on any
        error seen here. Pipelined, the commit runs after this returns (see the class)."""
        if self._shutdown:
            self._failed(None, len(spans))
            return SpanExportResult.FAILURE
        with self._lock:
            try:
                commit = self._prepare(spans)
            except Exception as exc:
                self._failed(exc, len(spans))
                return SpanExportResult.FAILURE
            job = self._job(commit, len(spans))
            if self._committer is None:
                return SpanExportResult.SUCCESS if job() else SpanExportResult.FAILURE
            if not self._committer.submit(job):  # closed by shutdown meanwhile
                self._failed(None, len(spans))
                return SpanExportResult.FAILURE
            return SpanExportResult.SUCCESS

    def _prepare(self, spans: Sequence[ReadableSpan]) -> Callable[[], WriteResult]:
        """Everything but the SQL: the returned callable only commits."""
        records: list[Span] = []
        evaluations: list[Evaluation] = []
        for raw in to_raw_spans(spans):
            span, evals = normalize(raw, self.project)
            records.append(span)
            if evals:
                evaluations.extend(evals)
        store = self._open()
        write_prepared = getattr(store, "write_prepared", None)
        if write_prepared is None:  # a store without prepared writes checks in write()
            return lambda: store.write(records, evaluations)
        prepare = prepare_write if self._checked_write else prepare_normalized
        prepared = prepare(records, evaluations)
        return lambda: write_prepared(prepared)  # type: ignore[no-any-return]

    def _job(self, commit: Callable[[], WriteResult], count: int) -> Callable[[], bool]:
        def run() -> bool:
            try:
                commit()
            except Exception as exc:
                self._failed(exc, count)
                return False
            with self._count_lock:
                self.exported_spans += count
            return True

        return run

    def _failed(self, exc: Exception | None, count: int) -> None:
        """Count a dropped batch; log it (rate-limited) unless it was refused at shutdown."""
        with self._count_lock:
            self.dropped_spans += count
            if exc is None:
                return
            self.failed_batches += 1
            now = time.monotonic()
            if now - self._last_log < _LOG_EVERY_S:
                self._unlogged += 1
                return
            suppressed, self._unlogged, self._last_log = self._unlogged, 0, now
        # A locked or broken store must not flood the app's logs: one line per interval.
        _log.warning(
            "tracejudge: dropped %d span(s), could not write to the store: %s: %s%s",
            count,
            type(exc).__name__,
            exc,
            f" ({suppressed} more failed batch(es) since the last message)" if suppressed else "",
            exc_info=_log.isEnabledFor(logging.DEBUG),
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every accepted batch is committed (or failed, counted and logged);
        False if that takes longer than ``timeout_millis``."""
        if self._committer is None:
            return True
        return self._committer.wait_idle(timeout_millis / 1000)

    def shutdown(self, timeout_millis: float = 5000) -> None:
        """Stop accepting spans, wait for the commit in flight and close the store if we
        opened it.

        Waits at most ``timeout_millis`` in all; if an export or commit is still running
        (e.g. waiting on a locked database) the store is left for the process to clean up
        rather than closed under a writer.
        """
        self._shutdown = True
        deadline = time.monotonic() + max(0.0, timeout_millis / 1000)
        if not self._lock.acquire(timeout=max(0.0, timeout_millis / 1000)):
            _log.warning("tracejudge: an export was still running at shutdown")
            return
        try:
            committer = self._committer
            if committer is not None and not committer.close(deadline - time.monotonic()):
                _log.warning("tracejudge: a commit was still running at shutdown")
                return
            if self._owns_store and self._store is not None:
                try:
                    self._store.close()
                except Exception:
                    _log.warning("tracejudge: could not close the store", exc_info=True)
                self._store = None
        finally:
            self._lock.release()
