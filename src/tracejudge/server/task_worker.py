"""The server's eval-task worker: one :class:`~tracejudge.evals.tasks.TaskRunner` thread
for the app's lifespan.

It never slows ingestion down by design of the runner (its own SQLite connections,
bounded batches, short write transactions); here it is only started after the app is
up and stopped before the ingest writer closes, so a shutdown never cuts a batch off
mid-transaction (and a kill -9 leaves nothing the runner cannot resume from its cursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi.concurrency import run_in_threadpool

from tracejudge.server.settings import Settings
from tracejudge.store.base import Store

__all__ = ["task_worker"]

_STOP_TIMEOUT_S = 10.0


@asynccontextmanager
async def task_worker(store: Store, tasks: Any, settings: Settings) -> AsyncIterator[Any]:
    """Run the task worker (when ``settings.task_worker``) inside the ``async with``.

    Yields the runner, or None when the worker is turned off. Stopping waits up to
    ``_STOP_TIMEOUT_S`` for the batch in progress to commit.
    """
    if not settings.task_worker:
        yield None
        return
    from tracejudge.evals.tasks import TaskRunner

    runner = TaskRunner(
        store,  # type: ignore[arg-type]  # the server's store is a SQLiteStore
        tasks=tasks,
        poll_interval_s=settings.task_poll_interval_s,
        lease_s=settings.task_lease_s,
    )
    runner.start()
    try:
        yield runner
    finally:
        await run_in_threadpool(runner.stop, _STOP_TIMEOUT_S)
