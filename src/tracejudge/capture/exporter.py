"""``EmbeddedSpanExporter``: finished spans straight into the local store, no network.

Runs on the batch processor's worker thread (or the thread calling ``flush``), never on
the app's thread. Each batch is converted to RawSpans, normalized exactly like spans that
arrive over OTLP, and written in one transaction (through
:func:`~tracejudge.ingest.pipeline.write_normalized`, like the OTLP ingest paths). Any failure —
the database locked beyond its busy timeout, a full disk, a bug — is logged and the batch
dropped; nothing is raised to the caller.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracejudge.capture.convert import to_raw_spans
from tracejudge.ingest.normalize import normalize
from tracejudge.ingest.pipeline import write_normalized
from tracejudge.model import Evaluation, Span
from tracejudge.store.base import Store

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

    Counters (read any time): ``exported_spans``, ``dropped_spans``, ``failed_batches``.
    """

    def __init__(
        self,
        project: str,
        store: Store | None = None,
        *,
        db: str | os.PathLike[str] | None = None,
        store_factory: Callable[[str | os.PathLike[str] | None], Store] | None = None,
    ) -> None:
        self.project = project
        # Records are checked again on write unless the project is a proper name (what
        # register() enforces): normalize's output is then known to be well-formed.
        self._checked_write = not (isinstance(project, str) and project)
        self._store = store
        self._owns_store = store is None
        self._db = db
        self._factory = store_factory
        self._lock = threading.Lock()  # one export at a time; shutdown waits for it
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
        """Normalize and write ``spans`` in one transaction; FAILURE (logged) on any error."""
        if self._shutdown:
            self.dropped_spans += len(spans)
            return SpanExportResult.FAILURE
        with self._lock:
            try:
                records: list[Span] = []
                evaluations: list[Evaluation] = []
                for raw in to_raw_spans(spans):
                    span, evals = normalize(raw, self.project)
                    records.append(span)
                    if evals:
                        evaluations.extend(evals)
                store = self._open()
                if self._checked_write:
                    store.write(records, evaluations)
                else:
                    write_normalized(store, records, evaluations)
            except Exception as exc:
                self.failed_batches += 1
                self.dropped_spans += len(spans)
                self._log_failure(exc, len(spans))
                return SpanExportResult.FAILURE
            self.exported_spans += len(spans)
            return SpanExportResult.SUCCESS

    def _log_failure(self, exc: Exception, count: int) -> None:
        """Rate-limited warning: a locked or broken store must not flood the app's logs."""
        now = time.monotonic()
        if now - self._last_log < _LOG_EVERY_S:
            self._unlogged += 1
            return
        suppressed, self._unlogged, self._last_log = self._unlogged, 0, now
        _log.warning(
            "tracejudge: dropped %d span(s), could not write to the store: %s: %s%s",
            count,
            type(exc).__name__,
            exc,
            f" ({suppressed} more failed batch(es) since the last message)" if suppressed else "",
            exc_info=_log.isEnabledFor(logging.DEBUG),
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous; nothing is buffered here."""
        return True

    def shutdown(self, timeout_millis: float = 5000) -> None:
        """Stop accepting spans and close the store if we opened it.

        Waits at most ``timeout_millis`` for an export in progress; if it is still running
        (e.g. waiting on a locked database) the store is left for the process to clean up
        rather than closed under a writer.
        """
        self._shutdown = True
        if not self._lock.acquire(timeout=max(0.0, timeout_millis / 1000)):
            _log.warning("tracejudge: an export was still running at shutdown")
            return
        try:
            if self._owns_store and self._store is not None:
                try:
                    self._store.close()
                except Exception:
                    _log.warning("tracejudge: could not close the store", exc_info=True)
                self._store = None
        finally:
            self._lock.release()
