"""``SQLiteStore``: the embedded, write-once span store (one file, WAL mode).

Designed so the capture SDK (in the app process) and a server can share one file:
WAL lets readers run while a writer commits, and a busy timeout makes a second writer
wait its turn instead of failing. Each :meth:`SQLiteStore.write` is one
``BEGIN IMMEDIATE`` transaction: every record is validated and serialized *before* the
transaction starts, and any failure inside it rolls the whole batch back.

The hot insert path uses the stdlib ``sqlite3`` connection directly (``executemany`` with
bound parameters); SQLAlchemy/Alembic are only used to create and migrate the schema.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from tracejudge.errors import ConfigurationError, StoreError
from tracejudge.model import (
    Evaluation,
    Span,
    StatusCode,
    TraceSummary,
    WriteResult,
    compute_content_hash,
)
from tracejudge.store.base import VerifyReport
from tracejudge.store.migrations import upgrade_to_head
from tracejudge.store.schema import (
    EVALUATION_COLUMNS,
    SPAN_BUCKET_BITS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
)

__all__ = ["PREVIEW_CHARS", "SQLiteStore"]

PREVIEW_CHARS = 200  # input/output previews in the trace list
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_VERIFY_CHUNK = 2000
_PAGE_SIZE = 16384
_TRACE_ID = re.compile(r"[0-9a-f]{32}").fullmatch
_SPAN_ID = re.compile(r"[0-9a-f]{16}").fullmatch
_STATUSES = frozenset(StatusCode)
_JSON_FIELDS = ("attributes", "events", "links", "resource", "scope")

# ingest_seq is assigned by SQLite; trace_rowid and span_bucket by the write path.
_SPAN_INSERT_COLUMNS = ("trace_rowid", "span_bucket", *SPAN_COLUMNS[1:])
_INSERT_SPAN = (
    f"INSERT INTO spans ({', '.join(_SPAN_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_SPAN_INSERT_COLUMNS))}) "
    "ON CONFLICT (trace_rowid, span_id) DO NOTHING"
)
_EVAL_INSERT_COLUMNS = EVALUATION_COLUMNS[1:]  # all but seq
_INSERT_EVALUATION = (
    f"INSERT INTO evaluations ({', '.join(_EVAL_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_EVAL_INSERT_COLUMNS))}) "
    "ON CONFLICT (id) DO NOTHING"
)
# A trace's row exists before its spans go in (spans reference its rowid). A new row
# starts with the batch's time range and zero counts; _UPDATE_TRACE then adds the spans.
_ENSURE_TRACE = (
    "INSERT INTO traces (trace_id, project, start_ns, end_ns, span_count, error_count, "
    "prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, 0, 0, 0, 0) "
    "ON CONFLICT (trace_id) DO NOTHING"
)
# In an UPDATE every right-hand side sees the row as it was before the update, so all the
# root fields test the old root_span_id: the first root to arrive wins, whenever it comes.
_UPDATE_TRACE = (
    "UPDATE traces SET "
    "start_ns = min(start_ns, ?), "
    "end_ns = max(end_ns, ?), "
    "name = CASE WHEN root_span_id IS NULL THEN ? ELSE name END, "
    "input_preview = CASE WHEN root_span_id IS NULL THEN ? ELSE input_preview END, "
    "output_preview = CASE WHEN root_span_id IS NULL THEN ? ELSE output_preview END, "
    "root_span_id = coalesce(root_span_id, ?), "
    "span_count = span_count + ?, "
    "error_count = error_count + ?, "
    "prompt_tokens = prompt_tokens + ?, "
    "completion_tokens = completion_tokens + ? "
    "WHERE trace_rowid = ?"
)
_ID_CHUNK = 500  # bound parameters per IN (...) lookup
_SELECT_SPANS = f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans"
_SELECT_EVALUATIONS = f"SELECT {', '.join(EVALUATION_COLUMNS)} FROM evaluations"
_SELECT_TRACES = f"SELECT {', '.join(TRACE_COLUMNS)} FROM traces"
# One index probe per span bucket (see schema.py); the bucket list comes from a CTE.
_SELECT_SPAN_BY_ID = (
    "WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b "
    "WHERE n < (SELECT max(span_bucket) FROM spans)) "
    f"SELECT {', '.join('s.' + c for c in SPAN_COLUMNS)} "
    "FROM b JOIN spans AS s ON s.span_bucket = b.n AND s.span_id = ?"
)
_TRACE_ROWID = "(SELECT trace_rowid FROM traces WHERE trace_id = ?)"


def _preview(text: str | None) -> str | None:
    """First PREVIEW_CHARS characters, with an ellipsis when something was cut."""
    if text is None or len(text) <= PREVIEW_CHARS:
        return text
    return text[:PREVIEW_CHARS] + "…"


def _check_int(value: object, what: str) -> None:
    if type(value) is not int:  # bool is an int subclass; reject it too
        raise StoreError(f"{what} must be an int, got {type(value).__name__}")


_OPTIONAL_STR_FIELDS = (
    "status_message", "input", "output", "model", "provider", "session_id", "user_id",
)  # fmt: skip


def _span_problem(span: Span) -> str | None:
    """What is wrong with a span's scalar fields, or None. (JSON fields: see _span_row.)"""
    if not (isinstance(span.trace_id, str) and _TRACE_ID(span.trace_id)):
        return "trace_id must be 32 lowercase hex characters"
    if not (isinstance(span.span_id, str) and _SPAN_ID(span.span_id)):
        return "span_id must be 16 lowercase hex characters"
    parent = span.parent_span_id
    if parent is not None and not (isinstance(parent, str) and _SPAN_ID(parent)):
        return "parent_span_id must be None or 16 lowercase hex characters"
    if not (isinstance(span.project, str) and span.project):
        return "project must be a non-empty string"
    if not (isinstance(span.name, str) and isinstance(span.kind, str)):
        return "name and kind must be strings"
    if not isinstance(span.otel_kind, str):
        return "otel_kind must be a string"
    if span.status not in _STATUSES:
        return f"status must be one of {sorted(_STATUSES)}, got {span.status!r}"
    # type() rather than isinstance(): bool is an int subclass and is rejected too.
    for name in ("start_ns", "end_ns"):
        if type(getattr(span, name)) is not int:
            return f"{name} must be an int, got {type(getattr(span, name)).__name__}"
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(span, name)
        if value is not None and type(value) is not int:
            return f"{name} must be an int or None, got {type(value).__name__}"
    for name in _OPTIONAL_STR_FIELDS:
        value = getattr(span, name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string or None, got {type(value).__name__}"
    if not isinstance(span.content_hash, str):
        return "content_hash must be a string"
    return None


_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _span_row(index: int, span: Span, ingested_at_ns: int) -> tuple[Any, ...]:
    """Validate one span and turn it into an insert row (SPAN_COLUMNS[1:] order).

    Raises StoreError naming the span's position and ids and what is wrong.
    """
    if not isinstance(span, Span):
        raise StoreError(
            f"spans[{index}]: expected a tracejudge.model.Span, got {type(span).__name__}"
        )
    problem = _span_problem(span)
    field = ""
    try:
        if problem is None:
            # Kept inline (not a loop over names): this runs once per span on the hot path.
            field = "attributes"
            attributes = _dumps(span.attributes, option=_SORT_KEYS).decode()
            field = "events"
            events = _dumps(span.events, option=_SORT_KEYS).decode() if span.events else "[]"
            field = "links"
            links = _dumps(span.links, option=_SORT_KEYS).decode() if span.links else "[]"
            field = "resource"
            resource = _dumps(span.resource, option=_SORT_KEYS).decode()
            field = "scope"
            scope = _dumps(span.scope, option=_SORT_KEYS).decode()
            field = "tags"
            tags = _dumps(span.tags).decode() if span.tags else "[]"
            field = "span"
            content_hash = span.content_hash or compute_content_hash(span)
    except (TypeError, orjson.JSONEncodeError) as e:
        problem = f"{field} is not JSON-serializable: {e}"
    if problem is not None:
        where = f"spans[{index}] (trace {span.trace_id!r}, span {span.span_id!r})"
        raise StoreError(f"{where}: {problem}")
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.project,
        span.name,
        span.kind,
        span.otel_kind,
        span.status,
        span.status_message,
        span.start_ns,
        span.end_ns,
        attributes,
        events,
        links,
        resource,
        scope,
        span.input,
        span.output,
        span.model,
        span.provider,
        span.prompt_tokens,
        span.completion_tokens,
        span.session_id,
        span.user_id,
        tags,
        content_hash,
        ingested_at_ns,
    )


def _evaluation_row(index: int, ev: Evaluation) -> tuple[Any, ...]:
    """Validate one evaluation and turn it into an insert row."""
    where = f"evaluations[{index}]"
    if not isinstance(ev, Evaluation):
        raise StoreError(
            f"{where}: expected a tracejudge.model.Evaluation, got {type(ev).__name__}"
        )
    where = f"evaluations[{index}] (id {ev.id!r})"
    for name in ("id", "project", "name", "source"):
        if not (isinstance(getattr(ev, name), str) and getattr(ev, name)):
            raise StoreError(f"{where}: {name} must be a non-empty string")
    if not (isinstance(ev.trace_id, str) and _TRACE_ID(ev.trace_id)):
        raise StoreError(f"{where}: trace_id must be 32 lowercase hex characters")
    if not (isinstance(ev.span_id, str) and _SPAN_ID(ev.span_id)):
        raise StoreError(f"{where}: span_id must be 16 lowercase hex characters")
    for name in ("score", "latency_ms"):
        value = getattr(ev, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise StoreError(f"{where}: {name} must be a number or None")
    try:
        _check_int(ev.created_at_ns, "created_at_ns")
    except StoreError as e:
        raise StoreError(f"{where}: {e}") from None
    return tuple(getattr(ev, name) for name in _EVAL_INSERT_COLUMNS)


def _span_from_row(row: Sequence[Any]) -> Span:
    values = dict(zip(SPAN_COLUMNS, row, strict=True))
    for name in _JSON_FIELDS:
        values[name] = orjson.loads(values[name])
    values["tags"] = tuple(orjson.loads(values["tags"]))
    return Span(**values)


def _evaluation_from_row(row: Sequence[Any]) -> Evaluation:
    values = dict(zip(EVALUATION_COLUMNS, row, strict=True))
    del values["seq"]
    return Evaluation(**values)


def _summary_from_row(row: Sequence[Any]) -> TraceSummary:
    v = dict(zip(TRACE_COLUMNS, row, strict=True))
    return TraceSummary(
        trace_id=v["trace_id"],
        project=v["project"],
        root_span_id=v["root_span_id"],
        name=v["name"],
        input_preview=v["input_preview"],
        output_preview=v["output_preview"],
        start_ns=v["start_ns"],
        end_ns=v["end_ns"],
        status=StatusCode.ERROR if v["error_count"] else StatusCode.OK,
        span_count=v["span_count"],
        prompt_tokens=v["prompt_tokens"],
        completion_tokens=v["completion_tokens"],
    )


def _trace_deltas(spans: Sequence[Span]) -> dict[str, list[Any]]:
    """Per-trace summary contributions of ``spans``, keyed by trace id.

    Each value: [project, start_ns, end_ns, name, input_preview, output_preview,
    root_span_id, span_count, error_count, prompt_tokens, completion_tokens] -- the
    parameter order of _UPDATE_TRACE after the project.
    """
    acc: dict[str, list[Any]] = {}
    for s in spans:
        d = acc.get(s.trace_id)
        if d is None:
            d = acc[s.trace_id] = [s.project, s.start_ns, s.end_ns, None, None, None, None]
            d += [0, 0, 0, 0]
        else:
            d[1] = min(d[1], s.start_ns)
            d[2] = max(d[2], s.end_ns)
        if s.parent_span_id is None and d[6] is None:
            d[3:7] = [s.name, _preview(s.input), _preview(s.output), s.span_id]
        d[7] += 1
        d[8] += s.status == StatusCode.ERROR
        d[9] += s.prompt_tokens or 0
        d[10] += s.completion_tokens or 0
    return acc


def _positive_int(value: object, argument: str) -> int:
    if type(value) is not int or value <= 0:
        raise ConfigurationError(f"{argument} must be a positive int, got {value!r}")
    return value


class SQLiteStore:
    """A :class:`~tracejudge.store.base.Store` in one SQLite file.

    Example::

        store = SQLiteStore("traces.db")
        result = store.write(spans)
        spans = store.trace_spans(result_trace_id)
        store.close()

    Parameters:
        path: the database file (created, with its schema, if missing; its directory
            must exist).
        busy_timeout_ms: how long a write waits for another connection (another process)
            holding the write lock before failing with :class:`StoreError`.
        synchronous: SQLite ``PRAGMA synchronous``; ``"FULL"`` makes every committed
            write survive power loss, ``"NORMAL"`` only process crashes (faster).
        cache_mib: page cache per connection; large enough for the hot index pages.
        clock: returns wall-clock ns for ``ingested_at_ns`` (inject a fixed one in tests).

    Raises:
        ConfigurationError: a bad argument, or the file cannot be opened.

    Thread-safe: writes are serialized by a lock on one writer connection; each reading
    thread gets its own connection, so reads never wait for writes (WAL).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "FULL",
        cache_mib: int = 64,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if type(busy_timeout_ms) is not int or busy_timeout_ms < 0:
            raise ConfigurationError(
                f"busy_timeout_ms must be a non-negative int, got {busy_timeout_ms!r}"
            )
        if not isinstance(synchronous, str) or synchronous.upper() not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}"
            )
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ConfigurationError(f"path: directory {str(self.path.parent)!r} does not exist")
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous.upper()
        self._cache_kib = _positive_int(cache_mib, "cache_mib") * 1024
        self._clock = clock
        self._write_lock = threading.Lock()
        self._conns_lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._closed = False
        try:
            upgrade_to_head(self._connect_untracked)
            self._writer = self._connect()
        except sqlite3.Error as e:
            self.close()
            raise ConfigurationError(
                f"path: cannot open SQLite store {str(self.path)!r}: {e}"
            ) from e

    # -- connections --------------------------------------------------------------------

    def _connect_untracked(self) -> sqlite3.Connection:
        """A new autocommit connection with the store's pragmas applied."""
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            check_same_thread=False,  # the writer is shared by threads under _write_lock
        )
        try:
            # PRAGMA values cannot be bound parameters; all of them are validated above.
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            # Only takes effect on a new, empty file. Rows are ~2-3 kB: on 4 kB pages a
            # third of each page is wasted and every commit writes 4x more WAL frames.
            conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute(f"PRAGMA cache_size = -{self._cache_kib}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = self._connect_untracked()
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection."""
        if self._closed:
            raise StoreError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = self._connect()
            except sqlite3.Error as e:
                raise StoreError(f"cannot open a read connection: {e}") from e
        return conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"query failed: {e}") from e

    # -- writes -------------------------------------------------------------------------

    def write(self, spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()) -> WriteResult:
        """Store spans and evaluations in one transaction (all or nothing).

        Returns once committed. Raises :class:`StoreError` naming the first bad record
        (nothing is written) or when the database refuses the write (rolled back).
        """
        now = self._clock()
        span_rows = [_span_row(i, s, now) for i, s in enumerate(spans)]
        eval_rows = [_evaluation_row(i, e) for i, e in enumerate(evaluations)]
        if not span_rows and not eval_rows:
            return WriteResult()
        with self._write_lock:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = self._write_locked(conn, spans, span_rows, eval_rows)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise StoreError(f"write failed, nothing was stored: {e}") from e
        return result

    def _write_locked(
        self,
        conn: sqlite3.Connection,
        spans: Sequence[Span],
        span_rows: list[tuple[Any, ...]],
        eval_rows: list[tuple[Any, ...]],
    ) -> WriteResult:
        """The body of one write transaction; the caller commits or rolls back."""
        duplicates = 0
        conflicts: list[tuple[str, str]] = []
        inserted: Sequence[Span] = spans
        if span_rows:
            deltas = _trace_deltas(spans)
            rowids = self._ensure_traces(conn, deltas)
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'spans'").fetchone()
            seq_before = row[0] if row else 0
            bucket = (seq_before + 1) >> SPAN_BUCKET_BITS
            count = conn.executemany(
                _INSERT_SPAN, [(rowids[r[0]], bucket, *r) for r in span_rows]
            ).rowcount
            if count != len(span_rows):
                inserted, duplicates, conflicts = self._sort_out_resent(
                    conn, spans, span_rows, rowids, seq_before
                )
                deltas = _trace_deltas(inserted)
            conn.executemany(
                _UPDATE_TRACE, [(*d[1:], rowids[trace_id]) for trace_id, d in deltas.items()]
            )
        evals = conn.executemany(_INSERT_EVALUATION, eval_rows).rowcount if eval_rows else 0
        return WriteResult(
            inserted=len(inserted),
            duplicates=duplicates,
            conflicts=tuple(conflicts),
            evaluations=evals,
        )

    @staticmethod
    def _ensure_traces(conn: sqlite3.Connection, deltas: dict[str, list[Any]]) -> dict[str, int]:
        """Create missing ``traces`` rows; return trace_id -> trace_rowid for the batch."""
        conn.executemany(_ENSURE_TRACE, [(t, d[0], d[1], d[2]) for t, d in deltas.items()])
        ids = list(deltas)
        rowids: dict[str, int] = {}
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i : i + _ID_CHUNK]
            rowids.update(
                conn.execute(
                    "SELECT trace_id, trace_rowid FROM traces WHERE trace_id IN "
                    f"({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            )
        return rowids

    @staticmethod
    def _sort_out_resent(
        conn: sqlite3.Connection,
        spans: Sequence[Span],
        span_rows: list[tuple[Any, ...]],
        rowids: dict[str, int],
        seq_before: int,
    ) -> tuple[list[Span], int, list[tuple[str, str]]]:
        """Which spans of the batch were new, re-sent identical, or re-sent different.

        Only runs when some insert was skipped. Rows with ``ingest_seq > seq_before``
        are this transaction's (we hold the write lock); within a batch the first
        occurrence of a key is the one that was inserted.
        """
        new_keys = set(
            conn.execute(
                "SELECT trace_id, span_id FROM spans WHERE ingest_seq > ?", (seq_before,)
            ).fetchall()
        )
        hash_at = SPAN_COLUMNS.index("content_hash") - 1  # span_rows lack ingest_seq
        inserted: list[Span] = []
        duplicates = 0
        conflicts: list[tuple[str, str]] = []
        for span, row in zip(spans, span_rows, strict=True):
            key = (span.trace_id, span.span_id)
            if key in new_keys:
                new_keys.discard(key)
                inserted.append(span)
                continue
            stored = conn.execute(
                "SELECT content_hash FROM spans WHERE trace_rowid = ? AND span_id = ?",
                (rowids[span.trace_id], span.span_id),
            ).fetchone()
            if stored is not None and stored[0] == row[hash_at]:
                duplicates += 1
            else:
                conflicts.append(key)
        return inserted, duplicates, conflicts

    # -- reads --------------------------------------------------------------------------

    def trace_spans(self, trace_id: str, project: str | None = None) -> list[Span]:
        """All spans of a trace in start order; empty if unknown."""
        sql = _SELECT_SPANS + f" WHERE trace_rowid = {_TRACE_ROWID}"
        params: list[Any] = [trace_id]
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        return [_span_from_row(r) for r in self._query(sql + " ORDER BY start_ns", params)]

    def span(self, span_id: str, project: str | None = None) -> Span | None:
        """One span by id, or None (the oldest stored if ids collide across traces)."""
        sql = _SELECT_SPAN_BY_ID
        params: list[Any] = [span_id]
        if project is not None:
            sql += " AND s.project = ?"
            params.append(project)
        rows = self._query(sql + " ORDER BY s.ingest_seq LIMIT 1", params)
        return _span_from_row(rows[0]) if rows else None

    def list_traces(
        self, project: str, *, limit: int = 50, before: int | None = None
    ) -> list[TraceSummary]:
        """Traces of a project, newest start first; ``before`` is an exclusive start_ns cursor.

        A trace belongs to the project of its first stored span (spans of one trace
        sent under two projects are still one trace, listed once).
        """
        _positive_int(limit, "limit")
        sql = _SELECT_TRACES + " WHERE project = ?"
        params: list[Any] = [project]
        if before is not None:
            sql += " AND start_ns < ?"
            params.append(before)
        sql += " ORDER BY start_ns DESC, trace_rowid DESC LIMIT ?"
        return [_summary_from_row(r) for r in self._query(sql, [*params, limit])]

    def list_spans(
        self,
        project: str | None = None,
        *,
        kind: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
        after_seq: int | None = None,
    ) -> list[Span]:
        """Spans in ingest order (``ingest_seq`` ascending) after the ``after_seq`` cursor.

        Walks the rowid (= ingest order) from the cursor and filters, rather than using
        the (project, kind, start_ns) index and sorting every match: pages of common kinds
        cost O(limit) wherever the cursor is; a rare kind costs one scan over all pages.
        """
        _positive_int(limit, "limit")
        # "+column" keeps SQLite from picking the (project, kind, start_ns) index.
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("+project = ?", project),
            ("+kind = ?", kind),
            (f"trace_rowid = {_TRACE_ROWID}", trace_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if after_seq is not None:
            clauses.append("ingest_seq > ?")
            params.append(after_seq)
        sql = _SELECT_SPANS
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY ingest_seq LIMIT ?"
        return [_span_from_row(r) for r in self._query(sql, [*params, limit])]

    def evaluations(
        self, *, span_id: str | None = None, trace_id: str | None = None
    ) -> list[Evaluation]:
        """Evaluations of one span and/or one trace, oldest first."""
        if span_id is None and trace_id is None:
            raise ConfigurationError("evaluations() needs span_id or trace_id")
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("span_id", span_id), ("trace_id", trace_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        sql = _SELECT_EVALUATIONS + " WHERE " + " AND ".join(clauses)
        return [
            _evaluation_from_row(r)
            for r in self._query(sql + " ORDER BY created_at_ns, seq", params)
        ]

    def projects(self) -> list[str]:
        """Project names that have at least one span, sorted.

        One index probe per project (a loose index scan), not a scan of every trace.
        """
        names: list[str] = []
        while True:
            sql = "SELECT min(project) FROM spans" + (" WHERE project > ?" if names else "")
            (name,) = self._query(sql, names[-1:])[0]
            if name is None:
                return names
            names.append(name)

    def verify(self) -> VerifyReport:
        """Recompute every span's content hash from its stored columns.

        Streams ``_VERIFY_CHUNK`` rows at a time (keyset pagination on ``ingest_seq``),
        so memory stays flat however many spans are stored.
        """
        checked = 0
        mismatches: list[tuple[int, str, str]] = []
        for row in self._iter_all_rows():
            checked += 1
            try:
                span = _span_from_row(row)
                ok = compute_content_hash(span) == span.content_hash
            except (ValueError, TypeError):  # a column no longer decodes: tampered too
                ok = False
            if not ok:
                mismatches.append((row[0], row[1], row[2]))
        return VerifyReport(checked=checked, mismatches=tuple(mismatches))

    def _iter_all_rows(self) -> Iterator[Any]:
        after = 0
        while True:
            rows = self._query(
                _SELECT_SPANS + " WHERE ingest_seq > ? ORDER BY ingest_seq LIMIT ?",
                (after, _VERIFY_CHUNK),
            )
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened. Idempotent."""
        with self._write_lock:
            self._closed = True
            with self._conns_lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
