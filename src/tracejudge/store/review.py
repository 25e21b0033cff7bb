"""Human review records in the embedded SQLite file: :class:`SQLiteReviewStore`.

Four append-only tables (created by migration ``0004``; triggers reject UPDATE and
DELETE, as for spans): ``annotations`` (the latest record per annotator, trace and span is
the current state), ``review_queues`` (a fixed list of trace ids), ``review_claims``
(leases on queue items, so reviewers sharing a queue never get the same item) and
``categories`` (the failure taxonomy). They live in the spans' file so annotations can be
checked against stored traces and the trace list can show labels without another service.

Like :mod:`tracejudge.store.keys`, every call opens a short connection; writes that read
before they write (the previous record of a key, the claims of a queue) run inside
``BEGIN IMMEDIATE`` so concurrent reviewers are serialized by SQLite's write lock.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from itertools import islice
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Column, Index, Integer, String, Table, Text

from tracejudge.errors import ConfigurationError, NotFound, SpanNotFound, TraceNotFound
from tracejudge.model import Annotation, AnnotationAction, Category, ReviewQueue
from tracejudge.query.filter import compile_filter
from tracejudge.review.annotations import (
    AnnotationState,
    check_annotator,
    check_label,
    check_note,
    resolve_failure_modes,
    state_of,
    undo_target,
)
from tracejudge.review.queues import (
    DEFAULT_LEASE_S,
    MAX_QUEUE_ITEMS,
    Claim,
    QueueProgress,
    pick_next,
    sample_items,
)
from tracejudge.review.taxonomy import Taxonomy, build_taxonomy
from tracejudge.store.base import tables_required
from tracejudge.store.schema import metadata

__all__ = [
    "LABELLED_TRACE_SQL",
    "REVIEW_TABLES",
    "SQLiteReviewStore",
    "annotation_records",
    "categories",
    "review_claims",
    "review_queues",
]

# Registered on the store's metadata so the "migrated database == schema" check sees them.
annotation_records = Table(
    "annotations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # record order
    Column("id", String(32), nullable=False, unique=True),
    Column("project", Text, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16)),  # NULL: trace-level
    Column("annotator", Text, nullable=False),
    Column("label", Text),
    Column("note", Text),
    Column("failure_modes", Text, nullable=False),  # JSON array of category ids
    Column("action", Text, nullable=False),
    Column("supersedes", String(32)),
    Column("queue_id", String(32)),
    Column("author", Text),
    Column("created_at_ns", Integer, nullable=False),
    Index("ix_annotations_project_trace_id_annotator", "project", "trace_id", "annotator"),
    sqlite_autoincrement=True,
)

review_queues = Table(
    "review_queues",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("items", Text, nullable=False),  # JSON array of trace ids, in review order
    Column("seed", Integer),
    Column("created_by", Text),
    Column("created_at_ns", Integer, nullable=False),
    Index("ix_review_queues_project_created_at_ns", "project", "created_at_ns"),
)

review_claims = Table(
    "review_claims",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", String(32), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("annotator", Text, nullable=False),
    Column("claimed_at_ns", Integer, nullable=False),
    Column("expires_at_ns", Integer, nullable=False),
    Index("ix_review_claims_queue_id_trace_id", "queue_id", "trace_id"),
    sqlite_autoincrement=True,
)

categories = Table(
    "categories",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_by", Text),
    Column("created_at_ns", Integer, nullable=False),
    Index("ix_categories_project_name", "project", "name", unique=True),
)

REVIEW_TABLES: tuple[str, ...] = ("annotations", "review_queues", "review_claims", "categories")

_ANNOTATION_COLUMNS = tuple(c.name for c in annotation_records.columns if c.name != "seq")
_QUEUE_COLUMNS = tuple(c.name for c in review_queues.columns)
_CATEGORY_COLUMNS = tuple(c.name for c in categories.columns)
_MAX_NAME_CHARS = 200
_MAX_DEFINITION_CHARS = 5_000


class _Key(NamedTuple):
    """What one annotation state belongs to: the latest record per key is current."""

    project: str
    trace_id: str
    span_id: str | None
    annotator: str


def _annotation(row: Sequence[Any]) -> Annotation:
    values = dict(zip(_ANNOTATION_COLUMNS, row, strict=True))
    values["failure_modes"] = tuple(orjson.loads(values["failure_modes"]))
    return Annotation(**values)


def _queue(row: Sequence[Any]) -> ReviewQueue:
    values = dict(zip(_QUEUE_COLUMNS, row, strict=True))
    values["items"] = tuple(orjson.loads(values["items"]))
    return ReviewQueue(**values)


def _category(row: Sequence[Any]) -> Category:
    return Category(*row)


def _text(value: object, argument: str, limit: int) -> str:
    """A required, stripped, bounded piece of text."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{argument}: must not be empty")
    if len(value) > limit:
        raise ConfigurationError(f"{argument}: longer than {limit} characters")
    if "\x00" in value:
        raise ConfigurationError(f"{argument}: contains a null byte")
    return value.strip()


_SELECT_ANNOTATIONS = f"SELECT {', '.join(_ANNOTATION_COLUMNS)} FROM annotations"
# The one definition of "current": record ``a`` is the current state of its key (project,
# trace, span, annotator) when no later record has that key. Probes the
# (project, trace_id, annotator) index.
_IS_CURRENT = (
    "NOT EXISTS (SELECT 1 FROM annotations AS newer WHERE newer.project = a.project"
    " AND newer.trace_id = a.trace_id AND newer.annotator = a.annotator"
    " AND newer.span_id IS a.span_id AND newer.seq > a.seq)"
)
_CURRENT = (
    f"SELECT {', '.join('a.' + c for c in _ANNOTATION_COLUMNS)} FROM annotations AS a"
    f" WHERE ({{where}}) AND {_IS_CURRENT} ORDER BY a.seq"
)
# The one definition of a labelled trace (queue progress and next item, unlabelled-only
# queues, the traces page's "unlabelled" sampler): some annotator's current trace-level
# annotation of it has a label (a label cleared by undo does not count). An SQL condition
# on ``t.project`` and ``t.trace_id`` of the enclosing query.
LABELLED_TRACE_SQL = (
    "EXISTS (SELECT 1 FROM annotations AS a WHERE a.project = t.project"
    " AND a.trace_id = t.trace_id AND a.span_id IS NULL AND a.label IS NOT NULL"
    f" AND {_IS_CURRENT})"
)


class SQLiteReviewStore:
    """Annotations, review queues and the failure taxonomy of a store file.

    Example::

        review = SQLiteReviewStore(store.path)
        review.annotate("shop", trace_id, "ana", label="fail", note="retrieved the wrong SKU")
        queue = review.create_queue("shop", "monday", sample=100, unlabelled_only=True)
        trace_id = review.next_item(queue.id, "ana")   # claimed for ana for 10 minutes

    ``path`` must be a database already migrated by :func:`tracejudge.store.open_store`.
    Every method validates everything before it writes: a bad argument raises
    :class:`ConfigurationError` (or :class:`NotFound`) and nothing is stored.

    :param clock: nanoseconds since the epoch (injected by tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 5000,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = os.fspath(path)
        self._timeout_s = busy_timeout_ms / 1000
        self._clock = clock

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; with ``write`` the body runs in one BEGIN IMMEDIATE
        transaction (committed on success, rolled back on error)."""
        conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        with closing(conn), tables_required(self.path, "review tables"):
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn

    def _now(self) -> int:
        return self._clock()

    # -- annotations ------------------------------------------------------------------

    def trace_project(self, trace_id: str) -> str | None:
        """The project a stored trace belongs to, or None if it is not stored."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT project FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
        return row[0] if row else None

    def annotate(
        self,
        project: str,
        trace_id: str,
        annotator: str,
        *,
        span_id: str | None = None,
        label: str | None = None,
        note: str | None = None,
        failure_modes: Iterable[str] = (),
        queue_id: str | None = None,
    ) -> Annotation:
        """Record the new state of ``annotator``'s annotation of a trace (or of one span).

        The record holds the whole state: pass the label, note and failure modes the
        reviewer sees now (autosave sends all three on every change). Failure modes are
        category ids or names of ``project``. Saving the state that is already current
        writes nothing and returns the current record.

        :raises TraceNotFound: the trace is not stored in ``project``.
        :raises SpanNotFound: ``span_id`` is not a span of the trace.
        :raises ConfigurationError: a bad label, note, annotator, category or queue.
        """
        annotator = check_annotator(annotator)
        state = AnnotationState(check_label(label), check_note(note), ())
        with self._connect(write=True) as conn:
            self._check_target(conn, project, trace_id, span_id)
            if queue_id is not None:
                self._queue_row(conn, queue_id, project)
            modes = resolve_failure_modes(failure_modes, self._category_names(conn, project))
            state = AnnotationState(state.label, state.note, modes)
            current = self._current_of(conn, project, trace_id, annotator, span_id)
            if state_of(current) == state and current is not None:
                return current
            if current is None and state.empty:
                raise ConfigurationError("nothing to save: give a label, a note or failure modes")
            key = _Key(project, trace_id, span_id, annotator)
            supersedes = current.id if current else None
            return self._insert(conn, key, state, AnnotationAction.SET, supersedes, queue_id)

    def undo(
        self, project: str, trace_id: str, annotator: str, *, span_id: str | None = None
    ) -> Annotation:
        """Restore the state before ``annotator``'s last change of this key (a new record).

        Repeated undos keep walking back; undoing the first change clears the key.
        :raises ConfigurationError: nothing to undo.
        """
        annotator = check_annotator(annotator)
        with self._connect(write=True) as conn:
            current = self._current_of(conn, project, trace_id, annotator, span_id)
            history = {
                a.id: a for a in self._history_of(conn, project, trace_id, annotator, span_id)
            }
            state, supersedes = undo_target(current, history)
            key = _Key(project, trace_id, span_id, annotator)
            queue_id = current.queue_id if current else None
            return self._insert(conn, key, state, AnnotationAction.UNDO, supersedes, queue_id)

    def assign(
        self,
        project: str,
        annotation_id: str,
        category: str,
        *,
        author: str,
        remove: bool = False,
    ) -> Annotation:
        """Add (or with ``remove`` take away) a category on the annotation key of
        ``annotation_id`` (axial coding from the taxonomy page).

        Writes a new record on that key (the note's annotator) with ``action="assign"``
        and ``author`` set, from the key's *current* state. No change writes nothing.
        :raises NotFound: no such annotation in ``project``.
        """
        author = check_annotator(author)
        with self._connect(write=True) as conn:
            rows = conn.execute(
                _SELECT_ANNOTATIONS + " WHERE id = ? AND project = ?", (annotation_id, project)
            ).fetchall()
            if not rows:
                raise NotFound(f"no annotation {annotation_id!r} in project {project!r}")
            record = _annotation(rows[0])
            (cid,) = resolve_failure_modes([category], self._category_names(conn, project))
            current = self._current_of(
                conn, project, record.trace_id, record.annotator, record.span_id
            )
            assert current is not None  # the key has at least ``record``
            modes = current.failure_modes
            if remove:
                modes = tuple(m for m in modes if m != cid)
            elif cid not in modes:
                modes = (*modes, cid)
            if modes == current.failure_modes:
                return current
            state = AnnotationState(current.label, current.note, modes)
            key = _Key(project, record.trace_id, record.span_id, record.annotator)
            action = AnnotationAction.ASSIGN
            return self._insert(conn, key, state, action, current.id, current.queue_id, author)

    def current(
        self,
        project: str,
        *,
        trace_ids: Sequence[str] | None = None,
        annotator: str | None = None,
        trace_level_only: bool = False,
    ) -> list[Annotation]:
        """The current annotations (newest record per annotator, trace and span), in
        record order. Keys whose current state is empty (cleared by undo) are left out."""
        where, params = self._where(project, trace_ids, annotator)
        if trace_level_only:
            where += " AND span_id IS NULL"
        with self._connect() as conn:
            rows = conn.execute(_CURRENT.format(where=where), params).fetchall()
        found = [_annotation(r) for r in rows]
        return [a for a in found if not state_of(a).empty]

    def latest_labels(self, project: str, trace_ids: Sequence[str]) -> dict[str, list[Annotation]]:
        """Trace-level current annotations of each listed trace (for the trace list)."""
        out: dict[str, list[Annotation]] = {}
        for a in self.current(project, trace_ids=trace_ids, trace_level_only=True):
            out.setdefault(a.trace_id, []).append(a)
        return out

    def history(
        self, project: str, trace_id: str, *, annotator: str | None = None
    ) -> list[Annotation]:
        """Every annotation record of a trace, oldest first (undo and assign included)."""
        where, params = self._where(project, [trace_id], annotator)
        with self._connect() as conn:
            rows = conn.execute(f"{_SELECT_ANNOTATIONS} WHERE {where} ORDER BY seq", params)
            return [_annotation(r) for r in rows.fetchall()]

    @staticmethod
    def _where(
        project: str, trace_ids: Sequence[str] | None, annotator: str | None
    ) -> tuple[str, list[Any]]:
        where = "project = ?"
        params: list[Any] = [project]
        if trace_ids is not None:
            where += " AND trace_id IN (SELECT value FROM json_each(?))"
            params.append(orjson.dumps(list(trace_ids)).decode())
        if annotator is not None:
            where += " AND annotator = ?"
            params.append(annotator)
        return where, params

    def _history_of(
        self,
        conn: sqlite3.Connection,
        project: str,
        trace_id: str,
        annotator: str,
        span_id: str | None,
    ) -> list[Annotation]:
        rows = conn.execute(
            _SELECT_ANNOTATIONS + " WHERE project = ? AND trace_id = ? AND annotator = ? "
            "AND span_id IS ? ORDER BY seq",
            (project, trace_id, annotator, span_id),
        ).fetchall()
        return [_annotation(r) for r in rows]

    def _current_of(
        self,
        conn: sqlite3.Connection,
        project: str,
        trace_id: str,
        annotator: str,
        span_id: str | None,
    ) -> Annotation | None:
        rows = conn.execute(
            _SELECT_ANNOTATIONS + " WHERE project = ? AND trace_id = ? AND annotator = ? "
            "AND span_id IS ? ORDER BY seq DESC LIMIT 1",
            (project, trace_id, annotator, span_id),
        ).fetchall()
        return _annotation(rows[0]) if rows else None

    @staticmethod
    def _check_target(
        conn: sqlite3.Connection, project: str, trace_id: str, span_id: str | None
    ) -> None:
        """The trace is stored in ``project`` and ``span_id`` (if any) is one of its spans."""
        row = conn.execute(
            "SELECT trace_rowid FROM traces WHERE trace_id = ? AND project = ?",
            (trace_id, project),
        ).fetchone()
        if row is None:
            raise TraceNotFound(f"no trace {trace_id!r} in project {project!r}")
        if span_id is not None:
            found = conn.execute(
                "SELECT 1 FROM spans WHERE trace_rowid = ? AND span_id = ?", (row[0], span_id)
            ).fetchone()
            if found is None:
                raise SpanNotFound(f"no span {span_id!r} in trace {trace_id!r}")

    def _insert(
        self,
        conn: sqlite3.Connection,
        key: _Key,
        state: AnnotationState,
        action: str,
        supersedes: str | None,
        queue_id: str | None,
        author: str | None = None,
    ) -> Annotation:
        """Append one annotation record (inside the caller's transaction)."""
        record = Annotation(
            id=uuid.uuid4().hex,
            project=key.project,
            trace_id=key.trace_id,
            span_id=key.span_id,
            annotator=key.annotator,
            label=state.label,
            note=state.note,
            failure_modes=state.failure_modes,
            action=str(action),
            supersedes=supersedes,
            queue_id=queue_id,
            author=author,
            created_at_ns=self._now(),
        )
        values = [getattr(record, c) for c in _ANNOTATION_COLUMNS]
        values[_ANNOTATION_COLUMNS.index("failure_modes")] = orjson.dumps(
            list(record.failure_modes)
        ).decode()
        conn.execute(
            f"INSERT INTO annotations ({', '.join(_ANNOTATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_ANNOTATION_COLUMNS))})",
            values,
        )
        return record

    # -- queues -----------------------------------------------------------------------

    def create_queue(
        self,
        project: str,
        name: str,
        *,
        filter: str | None = None,
        sample: int | None = None,
        seed: int | None = None,
        unlabelled_only: bool = False,
        include_judge_traces: bool = False,
        limit: int = 100,
        created_by: str | None = None,
    ) -> ReviewQueue:
        """Build a queue of ``project``'s traces and store it.

        ``filter``: a span filter; the queue holds traces with at least one matching span,
        newest first (at most ``limit``). ``sample``: draw that many traces at random
        (from the filter's matches when both are given) with ``seed`` (drawn and stored
        when not given, so the draw can be repeated). ``unlabelled_only`` leaves out traces
        that already carry a trace-level label. Traces an LLM judge made while scoring
        (root span of kind EVALUATOR) are left out unless ``include_judge_traces``: a
        review queue is for the application's own traces. One of ``filter`` or ``sample``
        is required.

        :raises FilterSyntaxError: a bad filter (with its position).
        :raises ConfigurationError: bad arguments, or no trace qualifies.
        """
        name = _text(name, "name", _MAX_NAME_CHARS)
        if filter is None and sample is None:
            raise ConfigurationError("a queue needs a filter or a sample size")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_QUEUE_ITEMS
        ):
            raise ConfigurationError(f"limit: must be between 1 and {MAX_QUEUE_ITEMS}")
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int)):
            raise ConfigurationError("sample: must be a whole number of traces")
        if sample is not None and not 1 <= sample <= MAX_QUEUE_ITEMS:
            raise ConfigurationError(f"sample: size must be between 1 and {MAX_QUEUE_ITEMS}")
        compiled = compile_filter(filter) if filter is not None else None
        if sample is not None and seed is None:
            seed = random.SystemRandom().randrange(2**31)
        sql = "SELECT trace_id FROM traces AS t WHERE t.project = ?"
        params: list[Any] = [project]
        if compiled is not None:
            sql += (
                " AND EXISTS (SELECT 1 FROM spans WHERE spans.trace_rowid = t.trace_rowid"
                f" AND ({compiled.sql}))"
            )
            params.extend(compiled.params)
        if unlabelled_only:
            sql += f" AND NOT {LABELLED_TRACE_SQL}"
        sql += " ORDER BY t.start_ns DESC, t.trace_rowid DESC"
        skip: set[str] = set()
        with self._connect() as conn:
            if not include_judge_traces:
                # Judge traces are few: found through the (project, kind, ...) index rather
                # than probing every candidate's root span.
                skip |= {
                    r[0]
                    for r in conn.execute(
                        "SELECT trace_id FROM spans WHERE project = ? AND kind = 'EVALUATOR' "
                        "AND parent_span_id IS NULL",
                        (project,),
                    )
                }
            wanted = (r[0] for r in conn.execute(sql, params) if r[0] not in skip)
            if sample is None:
                items = tuple(islice(wanted, limit))  # stops stepping the query at ``limit``
            else:
                assert seed is not None
                candidates = list(wanted)
                items = sample_items(candidates, sample, seed) if candidates else ()
        if not items:
            raise ConfigurationError("no trace of this project matches: the queue would be empty")
        queue = ReviewQueue(
            id=uuid.uuid4().hex,
            project=project,
            name=name,
            source=filter if filter is not None else "sample",
            items=items,
            seed=seed if sample is not None else None,
            created_by=created_by,
            created_at_ns=self._now(),
        )
        with self._connect(write=True) as conn:
            conn.execute(
                f"INSERT INTO review_queues ({', '.join(_QUEUE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_QUEUE_COLUMNS))})",
                (
                    queue.id,
                    queue.project,
                    queue.name,
                    queue.source,
                    orjson.dumps(list(queue.items)).decode(),
                    queue.seed,
                    queue.created_by,
                    queue.created_at_ns,
                ),
            )
        return queue

    def queue(self, queue_id: str, project: str | None = None) -> ReviewQueue:
        """One queue. :raises NotFound: no such queue (in ``project``)."""
        with self._connect() as conn:
            return self._queue_row(conn, queue_id, project)

    def queues(self, project: str) -> list[ReviewQueue]:
        """The project's queues, newest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM review_queues WHERE project = ? "
                "ORDER BY created_at_ns DESC, id",
                (project,),
            ).fetchall()
        return [_queue(r) for r in rows]

    @staticmethod
    def _queue_row(conn: sqlite3.Connection, queue_id: str, project: str | None) -> ReviewQueue:
        row = conn.execute(
            f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM review_queues WHERE id = ?", (queue_id,)
        ).fetchone()
        if row is None or (project is not None and row[1] != project):
            where = f" in project {project!r}" if project is not None else ""
            raise NotFound(f"no review queue {queue_id!r}{where}")
        return _queue(row)

    def next_item(
        self,
        queue_id: str,
        annotator: str,
        *,
        project: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> str | None:
        """The trace ``annotator`` should review next, claimed for ``lease_s`` seconds.

        Never an item someone labelled, nor one another reviewer holds; the item the
        annotator already holds comes back first. None when the queue is done.
        """
        annotator = check_annotator(annotator)
        if not lease_s > 0:
            raise ConfigurationError("lease_s: must be positive")
        with self._connect(write=True) as conn:
            queue = self._queue_row(conn, queue_id, project)
            labelled = self._labelled(conn, queue)
            now = self._now()
            trace_id, claim = pick_next(
                queue.items, labelled, self._claims(conn, queue.id), annotator, now
            )
            if trace_id is not None and claim:
                conn.execute(
                    "INSERT INTO review_claims (queue_id, trace_id, annotator, claimed_at_ns, "
                    "expires_at_ns) VALUES (?, ?, ?, ?, ?)",
                    (queue.id, trace_id, annotator, now, now + int(lease_s * 1e9)),
                )
            return trace_id

    def progress(self, queue_id: str, project: str | None = None) -> QueueProgress:
        """``labelled`` of ``total`` items (labelled by anyone), and how many are held."""
        with self._connect() as conn:
            queue = self._queue_row(conn, queue_id, project)
            labelled = self._labelled(conn, queue)
            now = self._now()
            held = sum(
                1
                for c in self._claims(conn, queue.id).values()
                if c.active(now) and c.trace_id not in labelled
            )
        return QueueProgress(len(queue.items), len(labelled), held)

    @staticmethod
    def _labelled(conn: sqlite3.Connection, queue: ReviewQueue) -> set[str]:
        """Queue items with a current trace-level label from anyone."""
        rows = conn.execute(
            "SELECT t.trace_id FROM (SELECT ? AS project, value AS trace_id"
            f" FROM json_each(?)) AS t WHERE {LABELLED_TRACE_SQL}",
            (queue.project, orjson.dumps(list(queue.items)).decode()),
        ).fetchall()
        return {r[0] for r in rows}

    @staticmethod
    def _claims(conn: sqlite3.Connection, queue_id: str) -> dict[str, Claim]:
        rows = conn.execute(
            "SELECT trace_id, annotator, claimed_at_ns, expires_at_ns FROM review_claims "
            "WHERE queue_id = ? ORDER BY seq",
            (queue_id,),
        ).fetchall()
        return {r[0]: Claim(*r) for r in rows}  # later rows win: the newest claim per item

    # -- taxonomy ---------------------------------------------------------------------

    def create_category(
        self, project: str, name: str, definition: str, *, created_by: str | None = None
    ) -> Category:
        """Define a failure mode. Names are unique per project (case-insensitively).

        :raises ConfigurationError: empty or too long name/definition, or a taken name.
        """
        project = _text(project, "project", _MAX_NAME_CHARS)
        name = _text(name, "name", _MAX_NAME_CHARS)
        definition = _text(definition, "definition", _MAX_DEFINITION_CHARS)
        category = Category(uuid.uuid4().hex, project, name, definition, created_by, self._now())
        with self._connect(write=True) as conn:
            taken = self._category_names(conn, project).values()
            if name.casefold() in {n.casefold() for n in taken}:
                raise ConfigurationError(f"name: a category {name!r} already exists")
            conn.execute(
                f"INSERT INTO categories ({', '.join(_CATEGORY_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (category.id, project, name, definition, created_by, category.created_at_ns),
            )
        return category

    def categories(self, project: str) -> list[Category]:
        """The project's categories, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_CATEGORY_COLUMNS)} FROM categories WHERE project = ? "
                "ORDER BY created_at_ns, id",
                (project,),
            ).fetchall()
        return [_category(r) for r in rows]

    @staticmethod
    def _category_names(conn: sqlite3.Connection, project: str) -> dict[str, str]:
        rows = conn.execute("SELECT id, name FROM categories WHERE project = ?", (project,))
        return dict(rows.fetchall())

    def taxonomy(self, project: str, *, step: int | None = None) -> Taxonomy:
        """Counts, rates, notes and the saturation trend (see :mod:`tracejudge.review.taxonomy`).

        ``step``: reviewed traces per saturation point; None picks about ten points.
        """
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
            raise ConfigurationError("step: must be a positive whole number")
        return build_taxonomy(self.categories(project), self.current(project), step=step)
