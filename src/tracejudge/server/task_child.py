"""The eval-task worker's child process (see :mod:`tracejudge.server.task_worker`).

Its own module, importing only the task runner and the store: the child unpickles its
target and ``Settings`` by module name, and the server's modules (FastAPI, routes, UI)
would cost it ~0.8 s of CPU at every start for nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
from multiprocessing.synchronize import Event

from tracejudge.server.settings import Settings

__all__ = ["STOP_TIMEOUT_S", "run_worker_process"]

STOP_TIMEOUT_S = 10.0  # how long a stop waits for the batch in progress


def run_worker_process(
    db_path: str, settings: Settings, parent: int, stop: Event, ready: Event
) -> None:
    """The child process: a runner thread until ``stop`` is set or the parent is gone."""
    # Ctrl-C in a terminal reaches the whole process group: the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(settings.task_worker_nice)
    from tracejudge.evals.tasks import TaskRunner
    from tracejudge.store import open_store
    from tracejudge.store.tasks import SQLiteTaskStore

    store = open_store(db_path)
    runner = TaskRunner(
        store,  # type: ignore[arg-type]
        tasks=SQLiteTaskStore(db_path),
        batch_size=settings.task_batch_size,
        poll_interval_s=settings.task_poll_interval_s,
        lease_s=settings.task_lease_s,
    )
    runner.start()
    ready.set()
    try:
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the server died (kill -9): do not outlive it
                break
    finally:
        runner.stop(STOP_TIMEOUT_S)
        store.close()
