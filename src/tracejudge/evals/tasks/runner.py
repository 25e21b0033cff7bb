"""``TaskRunner``: runs eval tasks in bounded batches from each task's durable cursor.

One batch of one task (:meth:`TaskRunner.run_once`):

1. take the task's lease (so a server worker and ``tracejudge task run`` never work the
   same task at once) and skip it while it backs off after judge failures;
2. pick work: retrying outcomes whose next attempt is due, then spans after the cursor
   (``spans.ingest_seq``) — for a historic task only those stored when it was created
   and in its time range; for ``target="trace"`` only root spans of traces that had no
   new span for ``trace_idle_s``;
3. decide each span: filter (compiled SQL over the batch's range), deterministic sample,
   ``max_spans``, the rate cap; run the evaluators of admitted spans (code evaluators
   inline, LLM judges concurrently with the task's ``concurrency`` on the runner's own
   event loop thread, :class:`.loop.LoopThread`, so a caller inside a running loop —
   Jupyter, Playwright's sync API — works too);
4. commit evaluations (``source="task"``, deterministic ids), outcomes, counters and the
   new cursor in one short transaction guarded by the lease and the old cursor.

Running until idle (and in the background loop, for a few seconds per pass) judge calls
*stream*: while one batch's calls are in flight the next batch is picked and queued on
the same ``concurrency`` slots, and a finished batch is committed while the next one's
calls run. Batches still commit one at a time in cursor order, each guarded by the cursor
the one before it left, and a batch never picks a retry that an earlier one still works
on, so every guarantee of a single batch holds.

Step 3's evaluating and recording is :mod:`.execute`. Evaluators run outside any
transaction, and every read uses connections of this runner's thread, so ingestion is
never blocked for longer than one small write. A judge failure
becomes a ``retrying`` outcome with exponential back-off until ``max_attempts``, then
``failed``; when the judge rate-limits or every judge call of a batch fails, the whole
task backs off too (exponentially, up to ``max_backoff_s``) instead of burning through
new spans.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks.execute import (
    BoundEvaluator,
    WorkItem,
    bind_evaluators,
    default_judge_factory,
    judge_items,
    prepare_items,
    settle,
)
from tracejudge.evals.tasks.loop import LoopThread
from tracejudge.evals.tasks.sampling import in_sample
from tracejudge.evals.tasks.spec import EvalTask, JudgeSettings, Outcome, TaskSpec
from tracejudge.model import Span
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import (
    OutcomeRow,
    RunnerState,
    ScanRow,
    SQLiteTaskStore,
)

__all__ = ["RunReport", "TaskRunner", "default_judge_factory"]

_log = logging.getLogger(__name__)
_NS = 1_000_000_000
_MAX_TRACE_WAIT_S = (
    600.0  # (or 10 idle times) a trace still growing after its root is scored anyway
)
_JUDGE_WAVES = 4  # judge evaluations per batch: this many times the task's concurrency
_AHEAD = 2  # batches with judge calls in flight at once (the next one queues on the slots)
_STRETCH_S = 5.0  # the background loop streams one judge task at most this long per pass


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one batch (or a run until idle) did.

    ``considered``: spans newly considered; ``outcomes``: outcome value -> rows written;
    ``evaluations_written``: evaluation records written; ``errors``: evaluations without a
    verdict (retrying or failed); ``idle``: nothing more to do right now (caught up,
    waiting for retries or a back-off, or another runner holds the task).
    """

    considered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    evaluations_written: int = 0
    errors: int = 0
    idle: bool = True
    busy: bool = False  # another runner holds the task's lease; nothing was done
    done: bool = False  # a historic task finished (state is now "done")

    def __add__(self, other: RunReport) -> RunReport:
        return RunReport(
            considered=self.considered + other.considered,
            outcomes=dict(Counter(self.outcomes) + Counter(other.outcomes)),
            evaluations_written=self.evaluations_written + other.evaluations_written,
            errors=self.errors + other.errors,
            idle=other.idle,
            busy=other.busy,
            done=self.done or other.done,
        )


@dataclass(slots=True)
class _Prepared:
    """A task version's built evaluators (cached per task, rebuilt on a new version)."""

    version: int
    spec: TaskSpec
    evaluators: tuple[BoundEvaluator, ...]


@dataclass(slots=True)
class _Bucket:
    """Token bucket for a task's ``rate_per_s`` (burst: one second's worth)."""

    rate: float
    tokens: float
    at: float

    def take(self, n: int, now: float) -> bool:
        self.tokens = min(max(self.rate, 1.0), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def wait_s(self, n: int) -> float:
        return max(0.0, (n - self.tokens) / self.rate)


class TaskRunner:
    """Runs eval tasks over a store; see the module docstring for one batch's steps.

    Example::

        runner = TaskRunner(store)
        runner.run_until_idle(task.id)      # a historic task, in the caller's thread
        runner.start()                      # every active task, in a daemon thread
        ...
        runner.stop()

    Parameters:
        store: the span store (its file also holds the tasks).
        tasks: the task store; default ``SQLiteTaskStore(store.path)``.
        judge_factory: builds the judge of a task's LLM evaluators from its settings.
        batch_size: most spans (plus due retries) per batch.
        poll_interval_s: background sleep when every task is idle.
        lease_s: how long a lease lasts without renewal (a crashed runner's tasks are
            taken over after this).
        retry_backoff_s, max_backoff_s: first wait before retrying a failed evaluation
            (doubling per attempt) and the largest wait, also for task-wide back-off.
        clock: wall-clock ns (retry times, evaluation timestamps).

    Raises:
        ConfigurationError: a bad argument.

    Thread-safe: batches of one task are serialized; different tasks may run in parallel.
    """

    def __init__(
        self,
        store: SQLiteStore,
        *,
        tasks: SQLiteTaskStore | None = None,
        judge_factory: Callable[[JudgeSettings], Judge] | None = None,
        batch_size: int = 256,
        poll_interval_s: float = 0.5,
        lease_s: float = 30.0,
        retry_backoff_s: float = 5.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if type(batch_size) is not int or batch_size < 1:
            raise ConfigurationError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        for name, value in (
            ("poll_interval_s", poll_interval_s),
            ("lease_s", lease_s),
            ("max_backoff_s", max_backoff_s),
        ):
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name}: expected a positive number, got {value!r}")
        if not isinstance(retry_backoff_s, int | float) or retry_backoff_s < 0:
            raise ConfigurationError(f"retry_backoff_s: expected >= 0, got {retry_backoff_s!r}")
        self.store = store
        self.tasks = tasks if tasks is not None else SQLiteTaskStore(store.path, clock=clock)
        self.judge_factory = judge_factory or default_judge_factory
        self.batch_size = batch_size
        self.poll_interval_s = float(poll_interval_s)
        self.lease_s = float(lease_s)
        self.retry_backoff_s = float(retry_backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._clock = clock
        self.owner = f"runner-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._prepared: dict[str, _Prepared] = {}
        self._task_locks: dict[str, threading.Lock] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._failures: Counter[str] = Counter()  # consecutive all-failed batches per task
        self._broken: Counter[str] = Counter()  # consecutive batches that raised, per task
        self._broken_until: dict[str, float] = {}  # monotonic time to try such a task again
        self._lock = threading.Lock()
        self._loops = LoopThread()  # judge calls run here, whatever the calling thread
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}  # loop thread only
        weakref.finalize(self, self._loops.close)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._held: set[str] = set()  # leases the background thread keeps
        self._lease_until: dict[str, float] = {}  # monotonic time to renew a held lease

    # -- public API ------------------------------------------------------------------------
    def run_once(self, task_id: str) -> RunReport:
        """Run one batch of ``task_id`` in the calling thread (idempotent, resumable).

        Raises:
            NotFound: no such task.
        """
        task_id = self.tasks.get(task_id).id
        with self._task_lock(task_id):
            if not self.tasks.acquire_lease(task_id, self.owner, self.lease_s):
                return RunReport(idle=True, busy=True)
            try:
                return self._batch(task_id)
            finally:
                if task_id not in self._held:
                    self.tasks.release_lease(task_id, self.owner)

    def run_until_idle(self, task_id: str, *, timeout_s: float | None = None) -> RunReport:
        """Run batches of ``task_id`` until there is nothing to do now (or ``timeout_s``).

        Waits out the rate cap; does not wait for retries that are not due yet (see
        :meth:`start` for a runner that keeps going).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        task_id = self.tasks.get(task_id).id
        with self._task_lock(task_id):
            if not self.tasks.acquire_lease(task_id, self.owner, self.lease_s):
                return RunReport(idle=True, busy=True)
            self._lease_until[task_id] = time.monotonic() + self.lease_s / 2
            try:
                return self._stream(task_id, deadline)
            finally:
                if task_id not in self._held:
                    self._lease_until.pop(task_id, None)
                    self.tasks.release_lease(task_id, self.owner)

    def start(self) -> None:
        """Run every active task, round robin, in a daemon thread until :meth:`stop`.

        The thread never raises: a failing batch is logged and retried on a later pass.
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="tracejudge-task-runner", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the background thread (after its current batches) and release its leases;
        also stops the judge event loop (a later run starts a new one)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        self._thread = None
        self._loops.close()
        self._slots.clear()  # bound to the closed loop

    def close(self) -> None:
        """Stop the background thread and the judge event loop (same as :meth:`stop`)."""
        self.stop()

    @property
    def running(self) -> bool:
        """True while the background thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # -- background loop -------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                busy = False
                try:
                    ids = self.tasks.runnable()
                except Exception:
                    _log.exception("task runner: cannot list tasks")
                    ids = []
                for gone in self._held - set(ids):  # paused, deleted or done elsewhere
                    self._release(gone)
                for task_id in ids:
                    if self._stop.is_set():
                        break
                    if self._broken_until.get(task_id, 0.0) > time.monotonic():
                        continue
                    try:
                        busy |= self._background_batch(task_id)
                        self._broken.pop(task_id, None)
                    except Exception as exc:
                        self._broken_batch(task_id, exc)
                if not busy:
                    self._stop.wait(self.poll_interval_s)
        finally:
            for task_id in list(self._held):
                self._release(task_id)

    def _broken_batch(self, task_id: str, exc: Exception) -> None:
        """A batch raised (a bug, or the database refusing): log it, note it on the task
        as its last error and leave the task alone for a while (doubling each time)."""
        _log.exception("task runner: batch of task %s failed", task_id)
        self._broken[task_id] += 1
        wait = min(self.retry_backoff_s * 2 ** (self._broken[task_id] - 1), self.max_backoff_s)
        self._broken_until[task_id] = time.monotonic() + max(wait, self.poll_interval_s)
        try:
            self.tasks.note_error(task_id, f"runner: {type(exc).__name__}: {exc}")
        except Exception:
            _log.exception("task runner: cannot record the error of task %s", task_id)

    def _background_batch(self, task_id: str) -> bool:
        """One batch if the lease is ours (a task with LLM judges: batches streamed for up
        to a few seconds); True when there is more work right away."""
        with self._task_lock(task_id):
            now = time.monotonic()
            if task_id not in self._held:
                if not self.tasks.acquire_lease(task_id, self.owner, self.lease_s):
                    return False
                self._held.add(task_id)
                self._lease_until[task_id] = now + self.lease_s / 2
            elif not self._keep_lease(task_id):
                self._held.discard(task_id)
                return False
            now = time.monotonic()
            report = self._stream(task_id, now, judge_deadline=now + self._stretch_s)
            if report.busy:  # the lease was lost (expired and taken): ask for it again
                self._held.discard(task_id)
                self._lease_until.pop(task_id, None)
        return not report.idle

    def _keep_lease(self, task_id: str) -> bool:
        """Renew the held lease at its half-life (a poll of an idle task costs no write);
        False if it was lost."""
        now = time.monotonic()
        if self._lease_until.get(task_id, 0.0) >= now:
            return True
        if not self.tasks.acquire_lease(task_id, self.owner, self.lease_s):
            self._lease_until.pop(task_id, None)
            return False
        self._lease_until[task_id] = now + self.lease_s / 2
        return True

    def _release(self, task_id: str) -> None:
        self._held.discard(task_id)
        self._lease_until.pop(task_id, None)
        try:
            self.tasks.release_lease(task_id, self.owner)
        except Exception:
            _log.exception("task runner: cannot release the lease of task %s", task_id)

    def _task_lock(self, task_id: str) -> threading.Lock:
        with self._lock:
            return self._task_locks.setdefault(task_id, threading.Lock())

    # -- one batch -------------------------------------------------------------------------
    def _prepare(self, task: EvalTask) -> _Prepared:
        """The task version's evaluators, built once per version."""
        cached = self._prepared.get(task.id)
        if cached is None or cached.version != task.version:
            evaluators = bind_evaluators(task.spec, self.judge_factory)
            cached = self._prepared[task.id] = _Prepared(task.version, task.spec, evaluators)
        return cached

    def _batch(self, task_id: str) -> RunReport:
        """One batch of a task whose lease this runner holds."""
        plan = self._plan(task_id, ())
        return RunReport(idle=True) if plan is None else self._finish(plan)

    @property
    def _stretch_s(self) -> float:
        return min(_STRETCH_S, self.lease_s / 4)

    def _stream(
        self, task_id: str, deadline: float | None, *, judge_deadline: float | None = None
    ) -> RunReport:
        """Batches of a task whose lease this runner holds, until idle, the lease is lost
        or ``deadline`` (monotonic) passes — ``judge_deadline`` instead, if given, after
        a batch with judge calls (the background loop streams those for a while, but
        moves on after one batch of a task with code evaluators only).

        Judge calls stream: while one batch's calls are in flight the next batch is
        picked, prepared and queued on the same ``concurrency`` slots, and a finished
        batch is committed while the next one's calls run, so no slot waits for the scan
        or the commit. Batches still commit one by one in cursor order, each guarded by
        the cursor the previous one left (see :meth:`_finish`).
        """
        total = RunReport()
        pending: deque[_Plan] = deque()
        planning = True
        stopped = False  # stopped early: report idle (or busy) whatever the last batch said
        try:
            while True:
                while planning and (
                    not pending
                    or (
                        len(pending) < _AHEAD
                        and pending[-1].judging is not None
                        and not pending[-1].throttled
                    )
                ):
                    plan = self._plan(task_id, pending)
                    if plan is None:
                        planning = False
                        break
                    pending.append(plan)
                    planning = plan.more_work
                if not pending:
                    return total + RunReport(idle=True)
                head = pending.popleft()
                report = self._finish(head)
                limit = deadline
                if judge_deadline is not None and head.judging is not None:
                    limit = judge_deadline
                total = total + report
                if report.busy:
                    planning, stopped = False, True
                    total = dataclasses.replace(total, busy=True)
                elif report.idle:
                    planning = False
                    stopped = stopped or bool(pending)
                elif limit is not None and time.monotonic() >= limit:
                    planning = False
                elif planning and not self._keep_lease(task_id):
                    planning, stopped = False, True
                    total = dataclasses.replace(total, busy=True)
                if not pending and not planning:
                    return dataclasses.replace(total, idle=True) if stopped else total
        finally:
            for plan in pending:  # only after an exception: do not leave calls running
                if plan.judging is not None:
                    plan.judging.cancel()

    def _plan(self, task_id: str, ahead: Sequence[_Plan]) -> _Plan | None:
        """Pick and prepare the next batch (None: the task is not runnable now).

        ``ahead``: batches picked but not committed yet, oldest first; this one starts at
        the last one's cursor and leaves out the retries they are still working on.
        Code evaluators run here; LLM judge calls are started on the runner's event loop.
        """
        state = self.tasks.runner_state(task_id)
        task = state.task
        if task.state != "active":
            return None
        now = self._clock()
        if state.backoff_until_ns > now:
            return None
        if ahead:
            state = dataclasses.replace(
                state,
                cursor=ahead[-1].scan.cursor,
                admitted=state.admitted + sum(p.scan.admitted for p in ahead),
            )
        prepared = self._prepare(task)
        spec = prepared.spec
        bucket = self._bucket(task_id, spec)

        retry_limit = max(1, self.batch_size // 2)
        busy = {key for p in ahead for key in p.retry_keys}
        retries = [
            r
            for r in self.tasks.due_retries(task_id, now, retry_limit + len(busy))
            if (r.ingest_seq, r.evaluator) not in busy
        ][:retry_limit]
        items: list[WorkItem] = []
        rows: list[OutcomeRow] = []
        throttled = False
        retried: list[OutcomeRow] = []
        for retry in retries:
            if bucket is not None and not bucket.take(1, time.monotonic()):
                throttled = True
                break
            retried.append(retry)
            span = self._find_span(retry.span_id, retry.trace_id, spec.project)
            bound = next((b for b in prepared.evaluators if b.spec.name == retry.evaluator), None)
            if span is None or bound is None:
                why = "span no longer stored" if span is None else "evaluator removed from task"
                rows.append(
                    OutcomeRow(
                        retry.span_id, retry.trace_id, retry.evaluator, retry.ingest_seq,
                        Outcome.FAILED, retry.attempts, why,
                    )
                )  # fmt: skip
                continue
            items.append(WorkItem(span, bound, retry.ingest_seq, retry.attempts))

        room = None  # judge batches stay a few waves long, so a batch ends well inside the lease
        if any(b.is_judge for b in prepared.evaluators):
            room = _JUDGE_WAVES * spec.concurrency - len(items)
        scan = self._scan(state, spec, prepared, bucket, self.batch_size - len(items), room)
        throttled |= scan.throttled
        rows.extend(scan.rows)
        items.extend(scan.items)

        plan = _Plan(
            task=task,
            expected_cursor=ahead[-1].scan.cursor if ahead else state.cursor,
            now=now,
            bucket=bucket,
            scan=scan,
            rows=rows,
            items=items,
            retried=len(retried),
            retry_keys=frozenset((r.ingest_seq, r.evaluator) for r in retried),
            more_retries=len(retries) >= retry_limit,
            throttled=throttled,
        )
        judge = prepare_items(items, self.store, spec.project)
        if judge:
            plan.judging = self._loops.submit(self._judge(task_id, spec.concurrency, judge))
        return plan

    async def _judge(
        self, task_id: str, concurrency: int, pending: list[tuple[WorkItem, dict[str, Any]]]
    ) -> None:
        """Judge a batch's items on the event loop, sharing the task's slots with the
        batches before and after it."""
        slots = self._slots.get((task_id, concurrency))
        if slots is None:
            slots = self._slots[(task_id, concurrency)] = asyncio.Semaphore(concurrency)
        await judge_items(pending, slots)

    def _finish(self, plan: _Plan) -> RunReport:
        """Wait for a batch's judge calls, then commit it (see the module docstring)."""
        if plan.judging is not None:
            plan.judging.result()
        task, scan, now, bucket = plan.task, plan.scan, plan.now, plan.bucket
        task_id, spec, items = task.id, task.spec, plan.items
        rows = list(plan.rows)
        settled, evaluations, usage = settle(
            task,
            items,
            now=now,
            clock=self._clock,
            retry_backoff_s=self.retry_backoff_s,
            max_backoff_s=self.max_backoff_s,
        )
        rows.extend(settled)

        backoff_until = None
        judged = [i for i in items if i.judge_called]
        all_failed = bool(judged) and all(i.judge_error for i in judged)
        rate_limited = any("rate limited" in (i.judge_error or "") for i in judged)
        if all_failed or rate_limited:
            self._failures[task_id] += 1
            wait = self.retry_backoff_s * 2 ** (self._failures[task_id] - 1)
            backoff_until = now + int(min(wait, self.max_backoff_s) * _NS)
        elif judged:
            self._failures.pop(task_id, None)
            backoff_until = 0

        retrying_delta = sum(1 for r in rows if r.outcome == Outcome.RETRYING) - plan.retried
        done = (
            spec.mode == "historic"
            and scan.exhausted
            and self.tasks.pending_retries(task_id) + retrying_delta <= 0
        )
        last_error = next((r.error for r in reversed(rows) if r.error), None)
        if not rows and scan.cursor == plan.expected_cursor and not done and backoff_until is None:
            return RunReport(idle=not plan.throttled)  # nothing happened: no write at all
        committed = self.tasks.commit_batch(
            task_id,
            self.owner,
            expected_cursor=plan.expected_cursor,
            new_cursor=scan.cursor,
            considered=scan.considered,
            admitted=scan.admitted,
            outcomes=rows,
            evaluations=evaluations,
            judge_prompt_tokens=usage.prompt_tokens,
            judge_completion_tokens=usage.completion_tokens,
            judge_calls=usage.calls,
            last_error=last_error,
            backoff_until_ns=backoff_until,
            done=done,
        )
        if not committed:  # the lease was lost or another runner moved the cursor
            return RunReport(idle=True, busy=True)
        if plan.throttled and bucket is not None:
            time.sleep(min(bucket.wait_s(1), self.poll_interval_s))
        idle = done or bool(backoff_until) or not plan.more_work
        return RunReport(
            considered=scan.considered,
            outcomes=dict(Counter(str(r.outcome) for r in rows)),
            evaluations_written=len(evaluations),
            errors=sum(1 for r in rows if r.error is not None),
            idle=bool(idle),
            done=done,
        )

    def _bucket(self, task_id: str, spec: TaskSpec) -> _Bucket | None:
        if spec.rate_per_s is None:
            self._buckets.pop(task_id, None)
            return None
        bucket = self._buckets.get(task_id)
        if bucket is None or bucket.rate != spec.rate_per_s:
            rate = float(spec.rate_per_s)
            bucket = self._buckets[task_id] = _Bucket(rate, max(rate, 1.0), time.monotonic())
        return bucket

    def _find_span(self, span_id: str, trace_id: str, project: str) -> Span | None:
        span = self.store.span(span_id, project)
        if span is not None and span.trace_id == trace_id:
            return span
        return next((s for s in self.store.trace_spans(trace_id) if s.span_id == span_id), None)

    def _scan(
        self,
        state: RunnerState,
        spec: TaskSpec,
        prepared: _Prepared,
        bucket: _Bucket | None,
        limit: int,
        room: int | None = None,
    ) -> _Scan:
        """Decide the spans after the cursor: outcome rows and items to evaluate.

        Decides on light rows (:meth:`SQLiteTaskStore.scan`); only admitted spans are
        then read, by primary key, with what evaluators can read
        (:meth:`SQLiteTaskStore.evaluation_spans`).
        """
        scan = _Scan(cursor=state.cursor)
        if limit <= 0:
            scan.exhausted = False
            return scan
        rows = self.tasks.scan(
            spec.project, state.cursor, limit, filter=spec.filter, max_seq=state.high_water_seq
        )
        scan.exhausted = len(rows) < limit or (
            state.high_water_seq is not None
            and bool(rows)
            and rows[-1].ingest_seq >= state.high_water_seq
        )
        n_eval = len(prepared.evaluators)
        admitted: list[ScanRow] = []
        now = self._clock()
        for row in rows:
            seq = row.ingest_seq
            if not self._in_scope(row, spec):
                scan.cursor = seq
                continue
            max_wait_s = max(_MAX_TRACE_WAIT_S, 10 * spec.trace_idle_s)
            if spec.target == "trace" and now - row.ingested_at_ns < max_wait_s * _NS:
                # Wait for late spans of the trace, but never hold the cursor (and every
                # trace behind it) for long after the root came.
                last = self.tasks.trace_last_ingested_ns(row.trace_id) or 0
                if now - last < spec.trace_idle_s * _NS:
                    scan.exhausted = False  # come back once the trace is idle
                    scan.waiting = True
                    break
            if row.matched and in_sample(row.span_id, spec.sample):
                over = (
                    spec.max_spans is not None and state.admitted + len(admitted) >= spec.max_spans
                )
                if not over:
                    if room is not None and (len(admitted) + 1) * n_eval > max(room, n_eval):
                        scan.exhausted = False  # the rest in the next batch
                        break
                    if bucket is not None and not bucket.take(n_eval, time.monotonic()):
                        scan.throttled = True
                        scan.exhausted = False
                        break
                    admitted.append(row)
                    scan.cursor = seq
                    scan.considered += 1
                    continue
                outcome = Outcome.OVER_LIMIT
            else:
                outcome = Outcome.SAMPLED_OUT if row.matched else Outcome.FILTERED
            scan.rows.extend(
                OutcomeRow(row.span_id, row.trace_id, b.spec.name, seq, outcome)
                for b in prepared.evaluators
            )
            scan.cursor = seq
            scan.considered += 1
        scan.admitted = len(admitted)
        spans = self.tasks.evaluation_spans([r.ingest_seq for r in admitted]) if admitted else {}
        for row in admitted:
            span = spans.get(row.ingest_seq) or self._find_span(
                row.span_id, row.trace_id, spec.project
            )
            if span is None:  # cannot happen for a write-once store; recorded, not raised
                scan.rows.extend(
                    OutcomeRow(
                        row.span_id, row.trace_id, b.spec.name, row.ingest_seq, Outcome.FAILED,
                        0, "span not readable",
                    )
                    for b in prepared.evaluators
                )  # fmt: skip
                continue
            scan.items.extend(WorkItem(span, b, row.ingest_seq, 0) for b in prepared.evaluators)
        return scan

    @staticmethod
    def _in_scope(row: ScanRow, spec: TaskSpec) -> bool:
        """Whether the span is a unit of the task at all (time range, root for traces)."""
        if spec.target == "trace" and row.parent_span_id is not None:
            return False
        if spec.start_ns is not None and row.start_ns < spec.start_ns:
            return False
        return spec.end_ns is None or row.start_ns < spec.end_ns


@dataclass(slots=True)
class _Scan:
    """What a scan of spans after the cursor decided."""

    cursor: int
    considered: int = 0
    admitted: int = 0
    rows: list[OutcomeRow] = field(default_factory=list)
    items: list[WorkItem] = field(default_factory=list)
    exhausted: bool = True  # no more spans after the cursor right now
    throttled: bool = False  # stopped by the rate cap
    waiting: bool = False  # stopped at a trace that is not idle yet


@dataclass(slots=True)
class _Plan:
    """One batch picked and prepared; its judge calls may still be in flight."""

    task: EvalTask
    expected_cursor: int  # the cursor the batch starts at (what its commit checks)
    now: int
    bucket: _Bucket | None
    scan: _Scan
    rows: list[OutcomeRow]  # outcomes decided without evaluating (filtered, sampled out, ...)
    items: list[WorkItem]
    retried: int  # due retries taken into the batch
    retry_keys: frozenset[tuple[int, str]]  # (ingest_seq, evaluator) of those retries
    more_retries: bool  # as many due retries as a batch takes: maybe more
    throttled: bool
    judging: Future[None] | None = None

    @property
    def more_work(self) -> bool:
        """Whether there is more to do right after this batch."""
        scan = self.scan
        return self.throttled or (not scan.exhausted and not scan.waiting) or self.more_retries
