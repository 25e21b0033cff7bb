"""The server's eval-task worker: one :class:`~tracejudge.evals.tasks.TaskRunner` for the
app's lifespan, as a thread (default) or as a child process.

The runner never holds up ingestion by design (its own SQLite connections, bounded batches,
short write transactions); here it is only started after the app is up and stopped before
the ingest writer closes, so a shutdown never cuts a batch off mid-transaction (and a kill -9
leaves nothing the runner cannot resume from its cursor).

As a thread it shares the interpreter (and its GIL) with the request handlers and the
ingest writer. ``Settings.task_worker_process`` moves it into a child process at a lower
CPU priority (``Settings.task_worker_nice``, +10 by default) instead, so under a CPU-bound
ingest load the operating system gives ingestion the cores first. The child watches its
parent: if the server dies (even by kill -9) it stops within a second.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi.concurrency import run_in_threadpool

from tracejudge.server.settings import Settings
from tracejudge.server.task_child import STOP_TIMEOUT_S, run_worker_process
from tracejudge.store.base import Store

__all__ = ["task_worker"]

_READY_TIMEOUT_S = 60.0

logger = logging.getLogger(__name__)


@asynccontextmanager
async def task_worker(store: Store, tasks: Any, settings: Settings) -> AsyncIterator[Any]:
    """Run the task worker (when ``settings.task_worker``) inside the ``async with``.

    Yields the runner (a thread), the child process, or None when the worker is turned
    off. Stopping waits up to ``STOP_TIMEOUT_S`` for the batch in progress to commit.
    """
    if not settings.task_worker:
        yield None
        return
    if settings.task_worker_process:
        process = _start_process(str(store.path), settings)  # type: ignore[attr-defined]
        await run_in_threadpool(_wait_ready, process)
        try:
            yield process
        finally:
            await run_in_threadpool(_stop_process, process)
        return
    from tracejudge.evals.tasks import TaskRunner

    runner = TaskRunner(
        store,  # type: ignore[arg-type]  # the server's store is a SQLiteStore
        tasks=tasks,
        batch_size=settings.task_batch_size,
        poll_interval_s=settings.task_poll_interval_s,
        lease_s=settings.task_lease_s,
    )
    runner.start()
    try:
        yield runner
    finally:
        await run_in_threadpool(runner.stop, STOP_TIMEOUT_S)


def _start_process(db_path: str, settings: Settings) -> multiprocessing.process.BaseProcess:
    ctx = multiprocessing.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    process = ctx.Process(
        target=run_worker_process,
        args=(db_path, settings, os.getpid(), stop, ready),
        name="tracejudge-task-worker",
        daemon=True,
    )
    process.start()
    process._tracejudge_stop = stop  # type: ignore[attr-defined]
    process._tracejudge_ready = ready  # type: ignore[attr-defined]
    return process


def _wait_ready(process: multiprocessing.process.BaseProcess) -> None:
    """Wait until the child's runner has started (its imports take ~1 s of CPU), so that
    start-up is over before the server accepts requests rather than competing with them.
    A child that dies or hangs in start-up is logged, not fatal: ingestion goes on."""
    ready = process._tracejudge_ready  # type: ignore[attr-defined]
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while not ready.wait(0.1):
        if not process.is_alive() or time.monotonic() > deadline:
            logger.warning("the eval-task worker did not start (exit code %s)", process.exitcode)
            return


def _stop_process(process: multiprocessing.process.BaseProcess) -> None:
    """Ask the worker to stop after its batch; terminate it if it does not in time."""
    process._tracejudge_stop.set()  # type: ignore[attr-defined]
    process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.terminate()
        process.join(5)
