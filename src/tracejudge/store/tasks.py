"""Eval tasks in the embedded SQLite file: definitions, versions, the run log, cursors, leases.

Three tables, in the same file as the spans (created by migration ``0003``) so a server's
worker and ``tracejudge task run`` in a shell share one state:

``eval_tasks``
    One row per task: its current spec (JSON), version, state, and the runner's state —
    the ``cursor`` (last ``spans.ingest_seq`` considered), counters (spans considered and
    admitted, judge tokens and calls), the last error, a task-wide back-off after the judge
    rate-limited or failed, and a *lease* (owner + expiry) so two runners never work the
    same task at once.
``eval_task_versions``
    Every definition a task ever had, write-once (UPDATE/DELETE rejected by triggers).
``eval_task_outcomes``
    The run log: one row per (task, span, evaluator) considered, UNIQUE on that key (the
    span named by its ``ingest_seq``, so the key grows with the cursor), with the outcome,
    attempts, error, retry time and the id of the evaluation written.

A batch of the runner is committed by :meth:`SQLiteTaskStore.commit_batch` in one short
``BEGIN IMMEDIATE`` transaction: the evaluations, the outcomes and the advanced cursor go
in together, guarded by the lease and the cursor the batch started from, so a crash or a
second runner can never record a (task, span, evaluator) twice. Evaluation ids are
deterministic (:func:`task_evaluation_id`), so even a replayed batch inserts nothing new.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import operator
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text
from sqlalchemy import UniqueConstraint as Unique

from tracejudge.errors import ConfigurationError, NotFound, StoreError
from tracejudge.evals.tasks.spec import (
    STATES,
    EvalTask,
    EvaluatorSummary,
    Outcome,
    SpanOutcome,
    TaskSpec,
    TaskState,
    TaskStatus,
)
from tracejudge.model import Evaluation, Span
from tracejudge.query.filter import compile_filter
from tracejudge.store.schema import EVALUATION_COLUMNS, SPAN_COLUMNS, metadata

__all__ = [
    "FAIL_LABELS",
    "PASS_LABELS",
    "ApplyResult",
    "OutcomeRow",
    "RunnerState",
    "SQLiteTaskStore",
    "ScanRow",
    "eval_task_outcomes",
    "eval_task_versions",
    "eval_tasks",
    "task_evaluation_id",
]

eval_tasks = Table(
    "eval_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: TaskSpec.to_dict()
    Column("state", Text, nullable=False),
    Column("created_at_ns", Integer, nullable=False),
    Column("updated_at_ns", Integer, nullable=False),
    Column("high_water_seq", Integer),  # historic: last spans.ingest_seq at creation
    Column("cursor", Integer, nullable=False),
    Column("considered", Integer, nullable=False),
    Column("admitted", Integer, nullable=False),  # spans counted against max_spans
    Column("judge_prompt_tokens", Integer, nullable=False),
    Column("judge_completion_tokens", Integer, nullable=False),
    Column("judge_calls", Integer, nullable=False),
    Column("last_error", Text),
    Column("backoff_until_ns", Integer, nullable=False),
    Column("lease_owner", Text),
    Column("lease_expires_ns", Integer),
    Index("ix_eval_tasks_project_name", "project", "name"),
)

eval_task_versions = Table(
    "eval_task_versions",
    metadata,
    Column("task_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at_ns", Integer, nullable=False),
    PrimaryKeyConstraint("task_id", "version"),
)

eval_task_outcomes = Table(
    "eval_task_outcomes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("evaluator", Text, nullable=False),
    Column("ingest_seq", Integer, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("next_attempt_at_ns", Integer),
    Column("evaluation_id", Text),
    Column("updated_at_ns", Integer, nullable=False),
    # ingest_seq names the span (spans are write-once) and grows with the cursor, so this
    # key is appended to, never inserted at random like a span id would be.
    Unique("task_id", "ingest_seq", "evaluator"),
    Index(
        "ix_eval_task_outcomes_task_id_outcome_next_attempt_at_ns",
        "task_id",
        "outcome",
        "next_attempt_at_ns",
    ),
)

PASS_LABELS = frozenset({"pass", "passed", "true", "yes", "correct", "ok", "grounded"})
FAIL_LABELS = frozenset({"fail", "failed", "false", "no", "incorrect", "hallucinated"})
"""Labels counted as a pass / a fail in pass rates; other labels fall back to score >= 0.5."""

_TASK_COLUMNS = "id, version, spec, state, created_at_ns, updated_at_ns"
_OUTCOME_COLUMNS = (
    "task_id, span_id, trace_id, evaluator, outcome, attempts, error, evaluation_id, "
    "updated_at_ns, next_attempt_at_ns"
)
_EVAL_INSERT_COLUMNS = EVALUATION_COLUMNS[1:]  # all but seq
_eval_row = operator.attrgetter(*_EVAL_INSERT_COLUMNS)  # Evaluation -> insert row (a tuple)
_INSERT_EVALUATION = (
    f"INSERT INTO evaluations ({', '.join(_EVAL_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_EVAL_INSERT_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)
# A terminal outcome is final: only a retrying row may be overwritten (by its next attempt).
_UPSERT_OUTCOME = (
    "INSERT INTO eval_task_outcomes (task_id, span_id, trace_id, evaluator, ingest_seq, "
    "outcome, attempts, error, next_attempt_at_ns, evaluation_id, updated_at_ns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (task_id, ingest_seq, evaluator) DO UPDATE SET "
    "outcome = excluded.outcome, attempts = excluded.attempts, error = excluded.error, "
    "next_attempt_at_ns = excluded.next_attempt_at_ns, "
    "evaluation_id = excluded.evaluation_id, updated_at_ns = excluded.updated_at_ns "
    "WHERE eval_task_outcomes.outcome = 'retrying'"
)
_TERMINAL_STATES = ("deleted",)
# ingest_seq of the span(s) with this id: one probe per span bucket (see store/schema.py).
_SEQS_OF_SPAN = (
    "WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b "
    "WHERE n < (SELECT max(span_bucket) FROM spans)) "
    "SELECT s.ingest_seq FROM b JOIN spans AS s ON s.span_bucket = b.n AND s.span_id = ?"
)

# A span as evaluators see it: every column but the JSON that no input path reads, selected
# in Span's field order (NULL for the unread ones) so a row becomes a Span positionally.
_UNREAD_SPAN_COLUMNS = frozenset({"events", "links", "resource", "scope"})
_SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(Span))
assert set(_SPAN_FIELDS) == set(SPAN_COLUMNS)  # a Span field without a column is a bug
_SELECT_EVAL_SPANS = "SELECT {} FROM spans WHERE ingest_seq IN ".format(
    ", ".join("NULL" if f in _UNREAD_SPAN_COLUMNS else f for f in _SPAN_FIELDS)
)
_EVAL_ATTRIBUTES = _SPAN_FIELDS.index("attributes")
_EVAL_TAGS = _SPAN_FIELDS.index("tags")
_EVAL_SEQ = _SPAN_FIELDS.index("ingest_seq")
_EVAL_UNREAD = tuple(
    (i, (list if f in ("events", "links") else dict))
    for i, f in enumerate(_SPAN_FIELDS)
    if f in _UNREAD_SPAN_COLUMNS
)
_SEQS_PER_READ = 500  # bound parameters per IN (...) read

ApplyResult = Literal["created", "updated", "unchanged"]


def task_evaluation_id(task_id: str, ingest_seq: int, span_id: str, evaluator: str) -> str:
    """The id of the evaluation a task writes for (span, evaluator): the same on every run.

    ``<task id>-<ingest_seq, 12 hex>-<hash of span id and evaluator, 12 hex>``: a span's
    ``ingest_seq`` never changes, and ids of one task sort in cursor order, so inserting
    them appends to the unique index instead of touching random pages.
    """
    digest = hashlib.sha256(f"{span_id}/{evaluator}".encode()).hexdigest()[:12]
    return f"{task_id}-{ingest_seq:012x}-{digest}"


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One outcome to record (a run-log row as the runner writes it)."""

    span_id: str
    trace_id: str
    evaluator: str
    ingest_seq: int
    outcome: str
    attempts: int = 0
    error: str | None = None
    next_attempt_at_ns: int | None = None
    evaluation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScanRow:
    """A span as the runner's scan sees it: enough to decide, without decoding it."""

    ingest_seq: int
    span_id: str
    trace_id: str
    parent_span_id: str | None
    start_ns: int
    ingested_at_ns: int
    matched: bool  # matches the task's filter


@dataclass(frozen=True, slots=True)
class RunnerState:
    """What a runner needs to know about a task before a batch."""

    task: EvalTask
    cursor: int
    admitted: int
    high_water_seq: int | None
    backoff_until_ns: int
    lease_owner: str | None
    lease_expires_ns: int | None


def _spec_json(spec: TaskSpec) -> str:
    return orjson.dumps(spec.to_dict(), option=orjson.OPT_SORT_KEYS).decode()


def _task_from_row(row: Sequence[Any]) -> EvalTask:
    spec = TaskSpec.from_dict(orjson.loads(row[2]))
    return EvalTask(
        id=row[0],
        version=row[1],
        spec=spec,
        state=row[3],
        created_at_ns=row[4],
        updated_at_ns=row[5],
    )


def _sql_texts(values: frozenset[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))  # constants above: no quotes inside


# 1 for a pass, 0 for a fail, NULL for no verdict: a known label decides, else the score.
_VERDICT_SQL = (
    f"CASE WHEN lower(trim(e.label)) IN ({_sql_texts(PASS_LABELS)}) THEN 1 "
    f"WHEN lower(trim(e.label)) IN ({_sql_texts(FAIL_LABELS)}) THEN 0 "
    "WHEN e.score IS NOT NULL THEN e.score >= 0.5 END"
)


class SQLiteTaskStore:
    """Eval tasks and their run log in a store file (see the module docstring).

    Example::

        tasks = SQLiteTaskStore(store.path)
        task = tasks.create(TaskSpec(name="g", project="shop",
                                     evaluators=(EvaluatorSpec("json_valid"),)))
        tasks.status(task.id).counts

    ``path`` must be a database migrated by :func:`tracejudge.store.open_store`. Every
    call opens a short connection, so a CLI and a server see each other's changes at once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 5000,
        clock: Any = time.time_ns,
    ) -> None:
        self.path = os.fspath(path)
        self._timeout_s = busy_timeout_ms / 1000
        self._clock = clock
        self._local = threading.local()
        self._conns: builtins.list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit, so every statement sees the latest commit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self._timeout_s,
                    isolation_level=None,
                    check_same_thread=False,  # close() may run on another thread
                )
            except sqlite3.Error as e:
                raise StoreError(f"cannot open {self.path}: {e}") from e
            # A batch lost to power failure is simply run again (its cursor goes back with
            # it, and evaluation ids are deterministic), so no fsync per commit is needed.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close the connections this store opened (it reopens them on next use)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        self._local = threading.local()
        for conn in conns:
            conn.close()

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """This thread's connection; a write holds ``BEGIN IMMEDIATE`` and commits on
        success, rolls back on error (a read transaction is ended either way)."""
        conn = self._connection()
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError) and "no such table" in str(e):
                raise ConfigurationError(
                    f"{self.path} has no eval_tasks table: open it with open_store() first"
                ) from e
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"task store: {e}") from e
            raise

    # -- definitions -----------------------------------------------------------------------
    def create(self, spec: TaskSpec) -> EvalTask:
        """Validate and store a new task (version 1, state active).

        Raises:
            ConfigurationError / FilterSyntaxError: the spec is invalid (nothing stored),
                or a live task of the project already has this name.
        """
        spec.validate()
        now = self._clock()
        task_id = uuid.uuid4().hex
        text = _spec_json(spec)
        with self._connect(write=True) as conn:
            self._check_name_free(conn, spec, None)
            high_water = None
            if spec.mode == "historic":
                row = conn.execute("SELECT max(ingest_seq) FROM spans").fetchone()
                high_water = row[0] or 0
            conn.execute(
                "INSERT INTO eval_tasks (id, project, name, version, spec, state, "
                "created_at_ns, updated_at_ns, high_water_seq, cursor, considered, admitted, "
                "judge_prompt_tokens, judge_completion_tokens, judge_calls, backoff_until_ns) "
                "VALUES (?, ?, ?, 1, ?, 'active', ?, ?, ?, 0, 0, 0, 0, 0, 0, 0)",
                (task_id, spec.project, spec.name, text, now, now, high_water),
            )
            conn.execute(
                "INSERT INTO eval_task_versions (task_id, version, spec, created_at_ns) "
                "VALUES (?, 1, ?, ?)",
                (task_id, text, now),
            )
        return EvalTask(task_id, 1, spec, "active", now, now)

    @staticmethod
    def _check_name_free(conn: sqlite3.Connection, spec: TaskSpec, task_id: str | None) -> None:
        row = conn.execute(
            "SELECT id FROM eval_tasks WHERE project = ? AND name = ? AND state != 'deleted' "
            "AND id IS NOT ?",
            (spec.project, spec.name, task_id),
        ).fetchone()
        if row is not None:
            raise ConfigurationError(
                f"name: project {spec.project!r} already has a task named {spec.name!r} "
                f"(id {row[0]}); update or apply it instead"
            )

    def get(self, id_or_name: str, project: str | None = None) -> EvalTask:
        """A task by id, or by name (among live tasks; ``project`` disambiguates).

        Raises:
            NotFound: no such task.
            ConfigurationError: the name is used in several projects and none was given.
        """
        with self._connect() as conn:
            return self._get(conn, id_or_name, project)

    def _get(self, conn: sqlite3.Connection, id_or_name: str, project: str | None) -> EvalTask:
        sql = f"SELECT {_TASK_COLUMNS} FROM eval_tasks WHERE id = ?"
        params: builtins.list[Any] = [id_or_name]
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        row = conn.execute(sql, params).fetchone()
        if row is not None:
            return _task_from_row(row)
        sql = (
            f"SELECT {_TASK_COLUMNS}, project FROM eval_tasks WHERE name = ? AND state != 'deleted'"
        )
        if project is not None:
            sql += " AND project = ?"
        rows = conn.execute(sql, params).fetchall()
        if len(rows) > 1:
            projects = ", ".join(sorted(r[-1] for r in rows))
            raise ConfigurationError(
                f"task name {id_or_name!r} is used in projects {projects}; give the project"
            )
        if not rows:
            where = f" in project {project!r}" if project is not None else ""
            raise NotFound(f"no eval task with id or name {id_or_name!r}{where}")
        return _task_from_row(rows[0][:-1])

    def list(
        self, project: str | None = None, *, include_deleted: bool = False
    ) -> builtins.list[EvalTask]:
        """Tasks, oldest first (deleted ones only with ``include_deleted``)."""
        sql = f"SELECT {_TASK_COLUMNS} FROM eval_tasks WHERE 1"
        params: builtins.list[Any] = []
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        if not include_deleted:
            sql += " AND state != 'deleted'"
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY created_at_ns, id", params).fetchall()
        return [_task_from_row(r) for r in rows]

    def update(self, task_id: str, spec: TaskSpec) -> EvalTask:
        """Replace a task's definition (version + 1). Outcomes, cursor and counters stay.

        Raises:
            NotFound, ConfigurationError (invalid spec, a project change, a taken name,
            a deleted task), FilterSyntaxError.
        """
        spec.validate()
        now = self._clock()
        with self._connect(write=True) as conn:
            current = self._get(conn, task_id, None)
            if current.state == "deleted":
                raise ConfigurationError(f"task {current.id} is deleted; create a new one")
            if spec.project != current.spec.project:
                raise ConfigurationError(
                    f"project: a task cannot move from {current.spec.project!r} to "
                    f"{spec.project!r}; create a new task"
                )
            self._check_name_free(conn, spec, current.id)
            if spec == current.spec:
                return current
            version = current.version + 1
            text = _spec_json(spec)
            conn.execute(
                "UPDATE eval_tasks SET name = ?, version = ?, spec = ?, updated_at_ns = ? "
                "WHERE id = ?",
                (spec.name, version, text, now, current.id),
            )
            conn.execute(
                "INSERT INTO eval_task_versions (task_id, version, spec, created_at_ns) "
                "VALUES (?, ?, ?, ?)",
                (current.id, version, text, now),
            )
        return EvalTask(current.id, version, spec, current.state, current.created_at_ns, now)

    def apply(self, spec: TaskSpec) -> tuple[EvalTask, ApplyResult]:
        """Create or update the live task of ``spec.project`` named ``spec.name``."""
        spec.validate()
        try:
            current = self.get(spec.name, spec.project)
        except NotFound:
            return self.create(spec), "created"
        if current.spec == spec:
            return current, "unchanged"
        return self.update(current.id, spec), "updated"

    def versions(self, task_id: str) -> builtins.list[tuple[int, TaskSpec, int]]:
        """Every definition the task had: ``(version, spec, created_at_ns)``, oldest first."""
        with self._connect() as conn:
            task = self._get(conn, task_id, None)
            rows = conn.execute(
                "SELECT version, spec, created_at_ns FROM eval_task_versions "
                "WHERE task_id = ? ORDER BY version",
                (task.id,),
            ).fetchall()
        return [(v, TaskSpec.from_dict(orjson.loads(s)), at) for v, s, at in rows]

    def set_state(self, task_id: str, state: TaskState) -> EvalTask:
        """Pause (``paused``), resume (``active``), finish or delete a task.

        Raises:
            ConfigurationError: unknown state, or a deleted task (deletion is final).
            NotFound: no such task.
        """
        if state not in STATES:
            raise ConfigurationError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
        now = self._clock()
        with self._connect(write=True) as conn:
            task = self._get(conn, task_id, None)
            if task.state in _TERMINAL_STATES and state != task.state:
                raise ConfigurationError(f"task {task.id} is deleted; create a new one")
            if task.state == state:
                return task
            conn.execute(
                "UPDATE eval_tasks SET state = ?, updated_at_ns = ?, backoff_until_ns = 0 "
                "WHERE id = ?",
                (state, now, task.id),
            )
        return EvalTask(task.id, task.version, task.spec, state, task.created_at_ns, now)

    def delete(self, task_id: str) -> EvalTask:
        """Mark a task deleted: it stops running; its evaluations and run log stay."""
        return self.set_state(task_id, "deleted")

    # -- run log -----------------------------------------------------------------------------
    def outcomes(
        self,
        task_id: str,
        *,
        span_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> builtins.list[SpanOutcome]:
        """Run-log rows of a task, oldest first; optionally of one span / one outcome."""
        if type(limit) is not int or limit < 1:
            raise ConfigurationError(f"limit must be a positive int, got {limit!r}")
        if outcome is not None and outcome not in set(Outcome):
            raise ConfigurationError(
                f"outcome: expected one of {', '.join(Outcome)}, got {outcome!r}"
            )
        with self._connect() as conn:
            task = self._get(conn, task_id, None)
            sql = f"SELECT {_OUTCOME_COLUMNS} FROM eval_task_outcomes WHERE task_id = ?"
            params: builtins.list[Any] = [task.id]
            if span_id is not None:  # through the span's ingest_seq: the outcome key
                sql += f" AND ingest_seq IN ({_SEQS_OF_SPAN}) AND span_id = ?"
                params += [span_id, span_id]
            if outcome is not None:
                sql += " AND outcome = ?"
                params.append(outcome)
            rows = conn.execute(sql + " ORDER BY seq LIMIT ?", [*params, limit]).fetchall()
        return [SpanOutcome(*r) for r in rows]

    def status(self, task_id: str) -> TaskStatus:
        """Counts per outcome, pass rates per evaluator, judge usage, progress and lag."""
        with self._connect() as conn:
            conn.execute("BEGIN")  # one snapshot for every number below
            task = self._get(conn, task_id, None)
            (
                cursor, considered, high_water, prompt, completion, calls, last_error
            ) = conn.execute(
                "SELECT cursor, considered, high_water_seq, judge_prompt_tokens, "
                "judge_completion_tokens, judge_calls, last_error FROM eval_tasks WHERE id = ?",
                (task.id,),
            ).fetchone()  # fmt: skip
            counts = dict(
                conn.execute(
                    "SELECT outcome, count(*) FROM eval_task_outcomes WHERE task_id = ? "
                    "GROUP BY outcome",
                    (task.id,),
                ).fetchall()
            )
            evaluators = self._evaluator_summaries(conn, task)
            total: int | None = None
            lag_s: float | None = None
            spec = task.spec
            if spec.mode == "historic":
                total = self._historic_total(conn, spec, high_water or 0)
            else:
                row = conn.execute(
                    "SELECT ingested_at_ns FROM spans WHERE ingest_seq > ? AND +project = ? "
                    "ORDER BY ingest_seq LIMIT 1",
                    (cursor, spec.project),
                ).fetchone()
                lag_s = 0.0 if row is None else max(0.0, (self._clock() - row[0]) / 1e9)
        return TaskStatus(
            task=task,
            counts={str(k): v for k, v in counts.items()},
            evaluators=evaluators,
            judge_prompt_tokens=prompt,
            judge_completion_tokens=completion,
            judge_calls=calls,
            last_error=last_error,
            cursor=cursor,
            total=total,
            considered=considered,
            lag_s=lag_s,
        )

    @staticmethod
    def _historic_total(conn: sqlite3.Connection, spec: TaskSpec, high_water: int) -> int:
        """Spans of the project in the task's time range stored when it was created."""
        sql = "SELECT count(*) FROM spans WHERE project = ? AND ingest_seq <= ?"
        params: builtins.list[Any] = [spec.project, high_water]
        if spec.start_ns is not None:
            sql += " AND start_ns >= ?"
            params.append(spec.start_ns)
        if spec.end_ns is not None:
            sql += " AND start_ns < ?"
            params.append(spec.end_ns)
        if spec.target == "trace":
            sql += " AND parent_span_id IS NULL"
        return int(conn.execute(sql, params).fetchone()[0])

    @staticmethod
    def _evaluator_summaries(
        conn: sqlite3.Connection, task: EvalTask
    ) -> tuple[EvaluatorSummary, ...]:
        """Per evaluator: scored, passed, failed (verdicts, see _VERDICT_SQL) and errors,
        aggregated by SQLite so a task with millions of outcomes costs one query."""
        stats = {ev.name: (0, 0, 0, 0) for ev in task.spec.evaluators}
        rows = conn.execute(
            "SELECT evaluator, sum(outcome = 'scored'), sum(v IS 1), sum(v IS 0), "
            "sum(outcome = 'failed') FROM ("
            f"SELECT o.evaluator, o.outcome, {_VERDICT_SQL} AS v FROM eval_task_outcomes AS o "
            "LEFT JOIN evaluations AS e ON e.id = o.evaluation_id AND o.outcome = 'scored' "
            "WHERE o.task_id = ? AND o.outcome IN ('scored', 'failed')) GROUP BY evaluator",
            (task.id,),
        ).fetchall()
        for name, scored, passed, failed, errors in rows:
            stats[name] = (scored, passed, failed, errors)
        return tuple(
            EvaluatorSummary(
                name=name,
                scored=s,
                passed=p,
                failed=f,
                errors=e,
                pass_rate=p / (p + f) if p + f else None,
            )
            for name, (s, p, f, e) in stats.items()
        )

    # -- runner side -------------------------------------------------------------------------
    def acquire_lease(self, task_id: str, owner: str, lease_s: float) -> bool:
        """Take (or renew) the task's lease for ``lease_s`` seconds; False if another
        runner holds an unexpired one."""
        now = self._clock()
        with self._connect(write=True) as conn:
            cur = conn.execute(
                "UPDATE eval_tasks SET lease_owner = ?, lease_expires_ns = ? WHERE id = ? "
                "AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_ns < ?)",
                (owner, now + int(lease_s * 1e9), task_id, owner, now),
            )
            return cur.rowcount == 1

    def release_lease(self, task_id: str, owner: str) -> None:
        """Give the lease back (a no-op unless ``owner`` holds it)."""
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE eval_tasks SET lease_owner = NULL, lease_expires_ns = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (task_id, owner),
            )

    def note_error(self, task_id: str, message: str) -> None:
        """Record ``message`` as the task's last error (shown by :meth:`status`)."""
        with self._connect(write=True) as conn:
            conn.execute("UPDATE eval_tasks SET last_error = ? WHERE id = ?", (message, task_id))

    def runner_state(self, task_id: str) -> RunnerState:
        """The task with its cursor, admitted count, range end, back-off and lease."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_TASK_COLUMNS}, cursor, admitted, high_water_seq, backoff_until_ns, "
                "lease_owner, lease_expires_ns FROM eval_tasks WHERE id = ?",
                (task_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no eval task with id {task_id!r}")
        return RunnerState(_task_from_row(row[:6]), *row[6:])

    def runnable(self) -> builtins.list[str]:
        """Ids of active tasks, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id FROM eval_tasks WHERE state = 'active' ORDER BY created_at_ns, id"
            ).fetchall()
        return [r[0] for r in rows]

    def scan(
        self,
        project: str,
        after_seq: int,
        limit: int,
        *,
        filter: str | None = None,
        max_seq: int | None = None,
    ) -> builtins.list[ScanRow]:
        """The next ``limit`` spans of ``project`` after ``after_seq`` (up to ``max_seq``),
        as light rows with whether each matches ``filter`` — no JSON is decoded, so
        spans a task filters or samples out cost next to nothing."""
        where = compile_filter(filter) if filter is not None else None
        matched = f"coalesce(({where.sql}), 0) != 0" if where is not None else "1"
        sql = (
            "SELECT ingest_seq, span_id, trace_id, parent_span_id, start_ns, ingested_at_ns, "
            f"{matched} "
            "FROM spans WHERE ingest_seq > ? AND +project = ?"
        )
        params: builtins.list[Any] = [*(where.params if where is not None else ()), after_seq]
        params.append(project)
        if max_seq is not None:
            sql += " AND ingest_seq <= ?"
            params.append(max_seq)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY ingest_seq LIMIT ?", [*params, limit])
            return [ScanRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]

    def evaluation_spans(self, seqs: Sequence[int]) -> dict[int, Span]:
        """Spans by ``ingest_seq``, as an evaluator of a task sees them.

        Every field an input path can read (the scalar columns, ``attributes`` and
        ``tags``) is there; ``events``, ``links``, ``resource`` and ``scope`` are left
        empty. No path reads them and they are most of a stored span's JSON, so reading
        only admitted spans by their primary key and decoding two JSON columns makes an
        admitted span several times cheaper than :meth:`SQLiteStore.list_spans`.
        An unknown ``ingest_seq`` is simply missing from the result.
        """
        spans: dict[int, Span] = {}
        wanted = sorted(set(seqs))
        with self._connect() as conn:
            for i in range(0, len(wanted), _SEQS_PER_READ):
                chunk = wanted[i : i + _SEQS_PER_READ]
                sql = _SELECT_EVAL_SPANS + f"({', '.join('?' * len(chunk))})"
                for row in conn.execute(sql, chunk):
                    values = list(row)
                    values[_EVAL_ATTRIBUTES] = orjson.loads(values[_EVAL_ATTRIBUTES])
                    values[_EVAL_TAGS] = tuple(orjson.loads(values[_EVAL_TAGS]))
                    for i, empty in _EVAL_UNREAD:
                        values[i] = empty()
                    spans[row[_EVAL_SEQ]] = Span(*values)
        return spans

    def trace_last_ingested_ns(self, trace_id: str) -> int | None:
        """When the newest span of a trace was stored (None for an unknown trace)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT max(ingested_at_ns) FROM spans WHERE trace_rowid = "
                "(SELECT trace_rowid FROM traces WHERE trace_id = ?)",
                (trace_id,),
            ).fetchone()
        return None if row is None else row[0]

    def due_retries(self, task_id: str, now_ns: int, limit: int) -> builtins.list[OutcomeRow]:
        """Retrying outcomes whose next attempt is due, earliest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT span_id, trace_id, evaluator, ingest_seq, outcome, attempts, error, "
                "next_attempt_at_ns, evaluation_id FROM eval_task_outcomes "
                "WHERE task_id = ? AND outcome = 'retrying' AND next_attempt_at_ns <= ? "
                "ORDER BY next_attempt_at_ns LIMIT ?",
                (task_id, now_ns, limit),
            ).fetchall()
        return [OutcomeRow(*r) for r in rows]

    def pending_retries(self, task_id: str) -> int:
        """Outcomes still retrying (due or not)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM eval_task_outcomes "
                "WHERE task_id = ? AND outcome = 'retrying'",
                (task_id,),
            ).fetchone()
        return int(row[0])

    def commit_batch(
        self,
        task_id: str,
        owner: str,
        *,
        expected_cursor: int,
        new_cursor: int,
        considered: int,
        admitted: int,
        outcomes: Sequence[OutcomeRow],
        evaluations: Sequence[Evaluation],
        judge_prompt_tokens: int = 0,
        judge_completion_tokens: int = 0,
        judge_calls: int = 0,
        last_error: str | None = None,
        backoff_until_ns: int | None = None,
        done: bool = False,
    ) -> bool:
        """Record one batch atomically: evaluations, outcomes, cursor and counters.

        Nothing is written (and False returned) unless ``owner`` still holds the lease and
        the cursor is still ``expected_cursor``: another runner cannot have recorded these
        spans meanwhile. ``done`` marks a historic task finished.
        """
        # Built by the runner from evaluation_record(), so the insert rows are taken as is.
        eval_rows = [_eval_row(e) for e in evaluations]
        now = self._clock()
        with self._connect(write=True) as conn:
            cur = conn.execute(
                "UPDATE eval_tasks SET cursor = ?, considered = considered + ?, "
                "admitted = admitted + ?, judge_prompt_tokens = judge_prompt_tokens + ?, "
                "judge_completion_tokens = judge_completion_tokens + ?, "
                "judge_calls = judge_calls + ?, last_error = coalesce(?, last_error), "
                "backoff_until_ns = coalesce(?, backoff_until_ns), "
                "state = CASE WHEN ? AND state = 'active' THEN 'done' ELSE state END, "
                "updated_at_ns = CASE WHEN ? AND state = 'active' THEN ? ELSE updated_at_ns END "
                "WHERE id = ? AND cursor = ? AND lease_owner = ?",
                (
                    new_cursor, considered, admitted, judge_prompt_tokens,
                    judge_completion_tokens, judge_calls, last_error, backoff_until_ns,
                    done, done, now, task_id, expected_cursor, owner,
                ),
            )  # fmt: skip
            if cur.rowcount != 1:
                conn.execute("ROLLBACK")
                return False
            if eval_rows:
                conn.executemany(_INSERT_EVALUATION, eval_rows)
            conn.executemany(
                _UPSERT_OUTCOME,
                [
                    (
                        task_id, o.span_id, o.trace_id, o.evaluator, o.ingest_seq, str(o.outcome),
                        o.attempts, o.error, o.next_attempt_at_ns, o.evaluation_id, now,
                    )
                    for o in outcomes
                ],
            )  # fmt: skip
        return True
