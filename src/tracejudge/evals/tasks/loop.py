"""``LoopThread``: a private asyncio event loop on a daemon thread, for the task runner's
judge calls.

The runner is synchronous (a CLI, a server worker thread, ``TaskHandle.run()`` in a
notebook). Driving the judge with ``asyncio.run``/``run_until_complete`` on the caller's
thread fails wherever a loop already runs there (Jupyter, Playwright's sync API, an async
web handler), and a loop per calling thread strands each judge's connection pool on the
loop it was made on. One loop on its own thread avoids both: callers submit coroutines
from any thread and wait on a :class:`concurrent.futures.Future`, and the judge calls of
successive batches share one connection pool and one concurrency limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop running on a daemon thread, started on first use.

    Example::

        loops = LoopThread()
        result = loops.run(some_coroutine())      # from any thread, even inside a loop
        future = loops.submit(other_coroutine())  # returns at once
        loops.close()

    Thread-safe. After :meth:`close` the next use starts a fresh loop.
    """

    def __init__(self, name: str = "tracejudge-task-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started if needed); touch it only through the loop's own
        thread-safe methods (``call_soon_threadsafe``) or from coroutines run on it."""
        return self._running_loop()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the loop; its future resolves when it finishes."""
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception).

        Raises:
            RuntimeError: called from the loop's own thread (it would wait on itself).
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopThread.run() called from its own loop thread")
        return self.submit(coro).result()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the loop after what it is running now, and join its thread.

        Open async clients bound to the loop are dropped with it (their sockets close).
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()
