"""Await a durable write from a request handler: submit to the queue, wait for the commit.

Shared by the OTLP receiver and ``POST /api/v1/evaluations`` so both answer overload the
same way: 503 with ``Retry-After`` (OTLP exporters back off and retry on it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from tracejudge.model import Evaluation, Span, WriteResult
from tracejudge.server.errors import ApiError
from tracejudge.server.ingest_queue import IngestQueue, QueueClosed, QueueFull
from tracejudge.server.settings import Settings
from tracejudge.store.prepared import PreparedWrite

__all__ = ["busy", "write_durably", "write_prepared_durably"]


def busy(settings: Settings, why: str) -> ApiError:
    """A 503 telling the client when to retry."""
    return ApiError(503, why, {"Retry-After": str(settings.retry_after_s)})


async def write_durably(
    queue: IngestQueue,
    settings: Settings,
    spans: Sequence[Span],
    evaluations: Sequence[Evaluation] = (),
) -> WriteResult:
    """Returns once the records are committed; raises :class:`ApiError` 503 when the queue
    is full or closing, or the commit takes longer than ``settings.write_timeout_s``.
    Store errors propagate (the app maps them to 503 too)."""
    return await _committed(settings, lambda: queue.submit(spans, evaluations))


async def write_prepared_durably(
    queue: IngestQueue, settings: Settings, prepared: PreparedWrite
) -> WriteResult:
    """:func:`write_durably` for rows already prepared (by an ingest worker process)."""
    return await _committed(settings, lambda: queue.submit_prepared(prepared))


async def _committed(settings: Settings, submit: Callable[[], Future[WriteResult]]) -> WriteResult:
    """Submit to the queue and wait for the commit, translating overload into 503s."""
    try:
        future = submit()
    except QueueFull as e:
        raise busy(settings, f"server busy: {e}; retry later") from e
    except QueueClosed as e:
        raise busy(settings, "server shutting down; retry later") from e
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), settings.write_timeout_s)
    except TimeoutError as e:
        # The write may still commit; a retry is then a harmless duplicate.
        raise busy(settings, "write not committed in time; retry later") from e
