"""The server's single writer: a bounded queue of decoded batches, committed in groups.

Shaped like OpenTelemetry's ``BatchProcessor``: request handlers decode, normalize and
prepare rows off the event loop (worker processes, see :mod:`tracejudge.ingest.parallel`),
then :meth:`IngestQueue.submit_prepared` the batch (or :meth:`IngestQueue.submit` records)
and get a future; one writer thread drains whatever is queued (up to
``write_batch_spans``), commits it in a single transaction (only SQL runs on it) and
resolves every future only after the commit. So
an HTTP 200 means durable, SQLite sees one writer, and many small exports share one
fsync. A full queue refuses at once (:class:`QueueFull`) so the handler can answer 503
with ``Retry-After`` instead of buffering without bound.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from tracejudge.errors import TracejudgeError
from tracejudge.model import Evaluation, Span, WriteResult
from tracejudge.store.base import Store
from tracejudge.store.prepared import PreparedWrite, merge_prepared, prepare_write

__all__ = ["IngestQueue", "QueueClosed", "QueueFull"]

logger = logging.getLogger(__name__)


class QueueFull(TracejudgeError):
    """The queue holds ``max_spans`` uncommitted spans already; retry later."""


class QueueClosed(TracejudgeError):
    """The queue is shutting down and accepts nothing more."""


@dataclass(slots=True)
class _Item:
    size: int  # spans plus evaluations
    prepared: PreparedWrite | None = None  # set at once, or by the writer for records
    records: tuple[Sequence[Span], Sequence[Evaluation]] = ((), ())
    future: Future[WriteResult] = field(default_factory=Future)


class IngestQueue:
    """Bounded queue with one writer thread in front of a :class:`Store`.

    Example::

        queue = IngestQueue(store, max_spans=50_000)
        queue.start()
        result = queue.submit(spans, evaluations).result()   # returns after commit
        queue.close()

    :param max_spans: spans (plus evaluations) accepted but not yet committed; past it
        :meth:`submit` raises :class:`QueueFull`. A single batch larger than this is
        still accepted when the queue is empty, so no batch is refused forever.
    :param write_batch_spans: the writer stops coalescing once a transaction holds this many.
    """

    def __init__(self, store: Store, *, max_spans: int = 50_000, write_batch_spans: int = 5_000):
        if max_spans <= 0:
            raise ValueError(f"max_spans must be > 0, got {max_spans!r}")
        if write_batch_spans <= 0:
            raise ValueError(f"write_batch_spans must be > 0, got {write_batch_spans!r}")
        self._store = store
        self._max = max_spans
        self._batch = write_batch_spans
        self._items: deque[_Item] = deque()
        self._pending = 0  # size of everything queued or being written
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tracejudge-writer", daemon=True)
        self.transactions = 0  # how many store.write calls the writer made (for tests/bench)

    @property
    def pending(self) -> int:
        """Spans and evaluations accepted but not yet committed."""
        return self._pending

    def start(self) -> None:
        """Start the writer thread. Idempotent."""
        if not self._thread.is_alive() and not self._closed:
            self._thread.start()

    def submit(
        self, spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()
    ) -> Future[WriteResult]:
        """Queue one batch of records; never blocks.

        The future resolves to this batch's share of the :class:`WriteResult` (its own
        conflicts; inserted/duplicates of the whole transaction are not split) once it is
        committed, or to the exception the store raised (a bad record fails only its own
        batch). Raises :class:`QueueFull` or :class:`QueueClosed` instead of queueing.
        """
        return self._enqueue(_Item(len(spans) + len(evaluations), records=(spans, evaluations)))

    def submit_prepared(self, prepared: PreparedWrite) -> Future[WriteResult]:
        """Like :meth:`submit`, for rows already made by
        :func:`~tracejudge.store.prepared.prepare_write` (the store must have
        ``write_prepared``)."""
        return self._enqueue(_Item(prepared.size, prepared=prepared))

    def _enqueue(self, item: _Item) -> Future[WriteResult]:
        with self._cond:
            if self._closed:
                raise QueueClosed("the ingest queue is closed")
            if self._pending and self._pending + item.size > self._max:
                raise QueueFull(f"{self._pending} spans are waiting to be written")
            self._items.append(item)
            self._pending += item.size
            self._cond.notify()
        return item.future

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop accepting, let the writer commit what is queued, then join it."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _take(self) -> list[_Item] | None:
        """Block until work arrives; pop queued items up to the transaction size."""
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                self._cond.wait()
            taken = [self._items.popleft()]
            size = taken[0].size
            while self._items and size + self._items[0].size <= self._batch:
                item = self._items.popleft()
                size += item.size
                taken.append(item)
            return taken

    def _run(self) -> None:
        while (items := self._take()) is not None:
            try:
                self._write(items)
            finally:
                with self._cond:
                    self._pending -= sum(i.size for i in items)

    def _write(self, items: list[_Item]) -> None:
        """Commit ``items`` in one transaction; on failure retry each alone so one bad
        batch cannot fail the others it was grouped with."""
        ready: list[_Item] = []
        for item in items:
            if item.prepared is None:
                try:
                    item.prepared = prepare_write(*item.records)
                except Exception as e:  # a bad record: this batch alone fails
                    item.future.set_exception(e)
                    continue
            ready.append(item)
        if not ready:
            return
        prepared = merge_prepared([i.prepared for i in ready if i.prepared is not None])
        try:
            result = self._store_write(prepared)
            self.transactions += 1
        except Exception as e:
            if len(ready) == 1:
                logger.warning("store write of %d spans failed: %s", len(prepared.span_rows), e)
                ready[0].future.set_exception(e)
                return
            for item in ready:
                self._write([item])
            return
        conflicts = set(result.conflicts)
        for item in ready:
            keys = item.prepared.span_keys() if conflicts and item.prepared else ()
            own = tuple(key for key in keys if key in conflicts)
            item.future.set_result(
                WriteResult(
                    inserted=result.inserted,
                    duplicates=result.duplicates,
                    conflicts=own,
                    evaluations=result.evaluations,
                )
            )

    def _store_write(self, prepared: PreparedWrite) -> WriteResult:
        write_prepared = getattr(self._store, "write_prepared", None)
        if write_prepared is None:
            raise TypeError(f"{type(self._store).__name__} cannot write prepared rows")
        result: WriteResult = write_prepared(prepared)
        return result
