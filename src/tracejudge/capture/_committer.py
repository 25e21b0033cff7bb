"""``Committer``: run one job at a time on a writer thread, at most one job in flight.

The embedded exporter's batch costs CPU (convert, normalize, prepare) and then waits on
the commit's fsync. The fsync releases the GIL, so the batch processor's worker can
prepare batch N+1 while this thread commits batch N. Only one job is ever handed over:
``submit`` waits until the previous one has finished, which bounds memory to the batch
being committed plus the one being prepared, and keeps commits in export order.

The thread starts on the first ``submit`` and exits after ``idle_s`` without work (so an
exporter dropped without ``shutdown`` leaves no thread behind) or on ``close``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Committer"]

_log = logging.getLogger(__name__)


class Committer:
    """A one-slot hand-over to a writer thread.

    Parameters:
        name: the thread's name.
        idle_s: the thread exits after this long without a job (started again on demand).

    Jobs must not raise: the exporter's jobs catch, count and log their own failures. A job
    that raises anyway is logged here and the thread carries on.
    """

    def __init__(self, name: str = "tracejudge-commit", idle_s: float = 5.0) -> None:
        self._name = name
        self._idle_s = idle_s
        self._cond = threading.Condition()
        self._job: Callable[[], object] | None = None  # handed over, not yet taken
        self._busy = False  # the thread is running a job
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The writer thread while it runs (for tests)."""
        return self._thread

    def submit(self, job: Callable[[], object]) -> bool:
        """Hand ``job`` to the writer thread once the previous job has finished.

        Blocks the caller (the export thread, never the app's) while a job is in flight.
        Returns False, without running ``job``, if the committer is closed.
        """
        with self._cond:
            while not self._closed and (self._job is not None or self._busy):
                self._cond.wait()
            if self._closed:
                return False
            self._job = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return True

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted job has finished; False if ``timeout_s`` ran out."""
        deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while self._job is not None or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout_s: float) -> bool:
        """Wait (bounded) for the job in flight, then stop the thread and refuse new jobs.

        Returns False if a job was still running after ``timeout_s``; the thread then
        finishes it in the background and exits.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        idle = self.wait_idle(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
            idle = idle and not thread.is_alive()
        return idle

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._job is None and not self._closed:
                    self._cond.wait(self._idle_s)
                job = self._job
                if job is None:  # closed, or idle for idle_s: exit (submit restarts us)
                    self._thread = None
                    return
                self._job, self._busy = None, True
            try:
                job()
            except BaseException:
                _log.warning("tracejudge: a commit job raised", exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
