"""Ingest on every core: worker processes decode, one writer commits.

Decoding, normalizing and preparing rows (:func:`prepare_payload`) is pure CPU work in
Python, so threads cannot overlap it; an :class:`IngestPool` runs it on worker processes
and hands back a :class:`~tracejudge.store.prepared.PreparedWrite` (plain tuples and
strings, cheap to pickle). The caller keeps the single writer: it only runs the SQL
(:meth:`SQLiteStore.write_prepared <tracejudge.store.sqlite.SQLiteStore.write_prepared>`),
while the workers already decode the next requests (:func:`ingest_requests`).

A worker's :class:`~tracejudge.errors.DecodeError` reaches the caller unchanged (same
message), and nothing of that payload is written.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import marshal
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from tracejudge.errors import ConfigurationError, DecodeError, StoreError
from tracejudge.ingest.otlp import DEFAULT_LIMITS, DecodeLimits
from tracejudge.ingest.pipeline import IngestResult, decode_and_normalize
from tracejudge.model import WriteResult
from tracejudge.store.prepared import PreparedWrite, merge_prepared, prepare_normalized

__all__ = [
    "IngestPool",
    "PreparedPayload",
    "PreparedStore",
    "default_workers",
    "ingest_requests",
    "prepare_lines",
    "prepare_payload",
    "shared_pool",
]

_WORKER_NICENESS = 10
_COMMIT_SPANS = 5_000  # spans per transaction when several requests are coalesced
_AHEAD = 16  # requests submitted to the workers ahead of the writer
# glibc mallopt parameters (malloc.h) and values for the workers, see _reuse_freed_memory.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED_BYTES = 64 << 20
_MMAP_ABOVE_BYTES = 16 << 20


class PreparedStore(Protocol):
    """A store that can commit prepared rows (``SQLiteStore``)."""

    def write_prepared(self, prepared: PreparedWrite) -> WriteResult: ...


@dataclass(frozen=True, slots=True)
class PreparedPayload:
    """One request body, decoded, normalized and serialized, ready to commit."""

    prepared: PreparedWrite
    spans: int  # spans decoded from the payload
    projects: tuple[str, ...]  # projects the spans go to, sorted


def prepare_payload(
    body: bytes,
    content_type: str,
    content_encoding: str | None = None,
    project: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> PreparedPayload:
    """Request body -> rows ready for ``write_prepared``; pure, so it runs in a worker.

    Raises:
        DecodeError: exactly as :func:`tracejudge.ingest.pipeline.decode_and_normalize`.
    """
    spans, evaluations = decode_and_normalize(
        body,
        content_type=content_type,
        content_encoding=content_encoding,
        project=project,
        limits=limits,
    )
    return PreparedPayload(
        prepare_normalized(spans, evaluations),
        len(spans),
        tuple(sorted({s.project for s in spans})),
    )


def _prepare_marshalled(*args: Any) -> bytes:
    """:func:`prepare_payload` in a worker, its result as ``marshal`` bytes.

    The rows are plain tuples of str/int/float/None, which marshal serializes 3x faster
    than pickle does the dataclasses (~2 us instead of ~6 us a span, on the worker that is
    the pipeline's bottleneck) and loads faster on the writer's side too.
    """
    payload = prepare_payload(*args)
    prepared = payload.prepared
    return marshal.dumps(
        (prepared.span_rows, prepared.eval_rows, prepared.deltas, payload.spans, payload.projects)
    )


def _ready() -> bool:
    """A no-op task: returns once a worker is up (see :meth:`IngestPool.start`)."""
    return True


def _unmarshal(data: bytes) -> PreparedPayload:
    span_rows, eval_rows, deltas, spans, projects = marshal.loads(data)
    return PreparedPayload(PreparedWrite(span_rows, eval_rows, deltas), spans, projects)


def _chain(source: Future[bytes]) -> Future[PreparedPayload]:
    """A future of the unmarshalled payload (or the worker's exception, as raised)."""
    result: Future[PreparedPayload] = Future()

    def done(f: Future[bytes]) -> None:
        if f.cancelled():
            result.cancel()
            result.set_running_or_notify_cancel()
            return
        error = f.exception()
        if error is not None:
            result.set_exception(error)
            return
        try:
            result.set_result(_unmarshal(f.result()))
        except BaseException as e:  # handed to the waiter, never lost
            result.set_exception(e)

    source.add_done_callback(done)
    return result


def default_workers() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _reuse_freed_memory() -> None:
    """Keep freed memory for the next request instead of handing it back to the kernel.

    Every request allocates and frees a few MB (the body, its decoded spans, the rows):
    with glibc's defaults the large blocks are ``mmap``ed and ``munmap``ed each time and
    the heap is trimmed, so the kernel zeroes fresh pages for every request -- ~3 us of
    system time a span on a worker (measured: worker system time 0.17-0.34 s -> 0.06-0.15 s
    per 50,000 spans). The cost: a worker holds on to up to 64 MB of freed memory
    (blocks under 16 MB come from its heap). Not glibc (no ``mallopt``): nothing to do.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES)
    mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE_BYTES)


def _exit_with_parent() -> None:
    """End this worker as soon as the process that started it is gone, even by kill -9.

    A pool worker otherwise waits on its call queue forever (it holds a copy of the
    queue's write end itself, so it never reads EOF), and it keeps the forkserver alive
    too: a killed server would leave both behind. ``parent_process().sentinel`` turns
    readable when the parent dies.
    """
    parent = multiprocessing.parent_process()
    sentinel = parent.sentinel if parent is not None else None
    if sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="tracejudge-parent-watch", daemon=True).start()


def _init_worker() -> None:
    """Worker start-up: yield the CPU to the writer, collect garbage rarely.

    The single writer is the pipeline's critical path, so workers run at a lower
    priority and only use what it leaves (on two cores they would otherwise take 2/3 of
    the writer's). Decoding allocates many short-lived dicts, so collect rarely.
    """
    with contextlib.suppress(AttributeError, OSError):  # not on POSIX, or not allowed
        os.nice(_WORKER_NICENESS)
    _reuse_freed_memory()
    _exit_with_parent()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where available (safe in a threaded parent, fast worker starts), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


class IngestPool:
    """Worker processes running :func:`prepare_payload`.

    Example::

        with IngestPool(workers=2) as pool:
            payload = pool.submit(body, content_type="application/x-protobuf").result()
            store.write_prepared(payload.prepared)

    Workers start on the first :meth:`submit`. Callers bound how much they submit at
    once (:func:`ingest_requests` keeps a small window; the server limits requests in
    flight). If a worker dies, the futures it held fail with ``BrokenProcessPool`` and
    the next :meth:`submit` starts fresh workers.

    :param workers: worker processes (default: :func:`default_workers`).
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (type(workers) is not int or workers <= 0):
            raise ConfigurationError(f"workers must be a positive int, got {workers!r}")
        self.workers = workers or default_workers()
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise StoreError("the ingest pool is closed")
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=_context(), initializer=_init_worker
                )
            return self._executor

    def start(self) -> None:
        """Start every worker now and wait until each has run a task.

        A server calls this before it accepts requests: otherwise the first export pays
        the worker start-up (forkserver, imports: ~0.5 s of CPU on this machine) while it
        waits, and that start-up competes with the first requests for the cores.
        """
        executor = self._running()
        for future in [executor.submit(_ready) for _ in range(self.workers)]:
            future.result()

    def submit(
        self,
        body: bytes,
        *,
        content_type: str,
        content_encoding: str | None = None,
        project: str | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ) -> Future[PreparedPayload]:
        """Queue one body; the future holds its :class:`PreparedPayload` or DecodeError."""
        args = (body, content_type, content_encoding, project, limits)
        executor = self._running()
        try:
            return _chain(executor.submit(_prepare_marshalled, *args))
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            return _chain(self._running().submit(_prepare_marshalled, *args))

    def close(self, wait: bool = True) -> None:
        """Stop the workers (after finishing what was submitted if ``wait``). Idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> IngestPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_shared: IngestPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> IngestPool:
    """The process-wide pool (started lazily, closed at interpreter exit)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = IngestPool()
            atexit.register(_shared.close)
        return _shared


def _add(total: IngestResult, payloads: list[PreparedPayload], write: WriteResult) -> IngestResult:
    projects = set(total.projects).union(*(p.projects for p in payloads))
    return IngestResult(
        spans=total.spans + sum(p.spans for p in payloads),
        inserted=total.inserted + write.inserted,
        duplicates=total.duplicates + write.duplicates,
        conflicts=total.conflicts + write.conflicts,
        evaluations=total.evaluations + write.evaluations,
        projects=tuple(sorted(projects)),
    )


def _merged(payloads: list[PreparedPayload]) -> PreparedWrite:
    return merge_prepared([p.prepared for p in payloads])


def ingest_requests(
    store: PreparedStore,
    bodies: Iterable[bytes],
    *,
    content_type: str,
    content_encoding: str | None = None,
    project: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
    pool: IngestPool | None = None,
    commit_spans: int = _COMMIT_SPANS,
) -> IngestResult:
    """Ingest many OTLP request bodies: workers decode, this thread commits, overlapped.

    Example::

        result = ingest_requests(store, bodies, content_type="application/x-protobuf")

    Bodies are decoded in parallel, a few ahead of the writer, and committed in order;
    consecutive requests share a transaction until it holds ``commit_spans`` spans
    (fewer fsyncs), and every request is in exactly one transaction, whole. Like sending
    them one after another: a bad body raises its DecodeError (nothing of it or any later
    body is written; every earlier body is committed).

    :param pool: worker processes to use (default: :func:`shared_pool`).
    """
    if type(commit_spans) is not int or commit_spans <= 0:
        raise ConfigurationError(f"commit_spans must be a positive int, got {commit_spans!r}")
    pool = pool or shared_pool()
    # Enough submitted ahead that workers stay busy while a whole group is committed.
    window = max(4 * pool.workers, _AHEAD)
    kwargs: dict[str, Any] = {
        "content_type": content_type,
        "content_encoding": content_encoding,
        "project": project,
        "limits": limits,
    }
    pending: deque[Future[PreparedPayload]] = deque()
    group: list[PreparedPayload] = []
    group_spans = 0
    total = IngestResult()
    iterator = iter(bodies)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                body = next(iterator, None)
                if body is None:
                    exhausted = True
                else:
                    pending.append(pool.submit(body, **kwargs))
            if not pending:
                break
            try:
                payload = pending.popleft().result()
            except BaseException:
                if group:  # earlier bodies decoded fine: commit them, as if sent one by one
                    total = _add(total, group, store.write_prepared(_merged(group)))
                raise
            group.append(payload)
            group_spans += payload.prepared.size
            if group_spans >= commit_spans or not pending:
                total = _add(total, group, store.write_prepared(_merged(group)))
                group, group_spans = [], 0
    finally:
        for future in pending:
            future.cancel()
    return total


def prepare_lines(
    store: PreparedStore,
    lines: list[tuple[int, bytes]],
    *,
    content_type: str,
    project: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
    pool: IngestPool | None = None,
) -> IngestResult:
    """One file of requests, ``(line number, body)`` each: prepared on the workers, then
    committed in ONE transaction (the file is all or nothing).

    Raises:
        DecodeError: ``line N: ...`` for the first bad line, or the file holds more than
            ``limits.max_spans`` spans; nothing is written.
    """
    pool = pool or shared_pool()
    futures = [
        pool.submit(line, content_type=content_type, project=project, limits=limits)
        for _, line in lines
    ]
    payloads: list[PreparedPayload] = []
    spans = 0
    try:
        for (number, _), future in zip(lines, futures, strict=True):
            try:
                payload = future.result()
            except DecodeError as exc:
                raise DecodeError(f"line {number}: {exc}") from None
            spans += payload.spans
            if spans > limits.max_spans:
                raise DecodeError(f"body: more than the limit of {limits.max_spans} spans")
            payloads.append(payload)
    finally:
        for future in futures:
            future.cancel()
    if not spans and not any(p.prepared.eval_rows for p in payloads):
        return IngestResult()
    return _add(IngestResult(), payloads, store.write_prepared(_merged(payloads)))
