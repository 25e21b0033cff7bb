"""The SQL schema of the embedded store, as SQLAlchemy Core tables.

This module is the *current* shape of the database; the Alembic revisions under
``store/migrations/versions`` are how a file gets there (a test checks that a freshly
migrated database matches this metadata exactly, so the two cannot drift apart).

Three tables:

``spans``
    One row per canonical :class:`~tracejudge.model.Span`, write-once (triggers reject
    UPDATE and DELETE). JSON-valued fields are TEXT written by orjson with sorted keys.
    ``ingest_seq`` is the rowid, so it is a monotonic cursor that costs no extra index.
``evaluations``
    Append-only :class:`~tracejudge.model.Evaluation` rows (same triggers).
``traces``
    A derived per-trace summary maintained inside every write transaction, so the trace
    list is an index range scan instead of an aggregate over millions of spans.

Write cost at scale is dominated by B-tree indexes on random keys: each random insert
dirties a whole page that every commit writes to the WAL and every checkpoint writes again.
So no per-span index is keyed on a random id alone:

- spans are unique on ``(trace_rowid, span_id)``: ``trace_rowid`` is the ``traces`` rowid,
  handed out in arrival order, so this index (also "spans by trace") grows at its end.
  Only ``traces.trace_id`` is a random key, with one insert per trace, not per span.
- span-by-id lookups use ``(span_bucket, span_id)`` where ``span_bucket`` is
  ``ingest_seq >> SPAN_BUCKET_BITS`` at write time: inserts only touch the newest bucket's
  few pages, and a lookup probes each bucket (~120 index probes per million spans).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "EVALUATION_COLUMNS",
    "SPAN_BUCKET_BITS",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "evaluations",
    "metadata",
    "spans",
    "traces",
]

# Explicit constraint names so Alembic and SQLite agree on them.
SPAN_BUCKET_BITS = 13  # 8,192 spans per span-id lookup bucket

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

spans = Table(
    "spans",
    metadata,
    # INTEGER PRIMARY KEY AUTOINCREMENT: an alias of the rowid that is never reused,
    # even after the highest row is gone (which triggers prevent anyway).
    Column("ingest_seq", Integer, primary_key=True, autoincrement=True),
    Column("trace_rowid", Integer, nullable=False),  # traces.trace_rowid of this span's trace
    Column("span_bucket", Integer, nullable=False),  # see the module docstring
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_span_id", String(16)),
    Column("project", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("otel_kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_message", Text),
    Column("start_ns", Integer, nullable=False),
    Column("end_ns", Integer, nullable=False),
    Column("attributes", Text, nullable=False),  # JSON object
    Column("events", Text, nullable=False),  # JSON array
    Column("links", Text, nullable=False),  # JSON array
    Column("resource", Text, nullable=False),  # JSON object
    Column("scope", Text, nullable=False),  # JSON object
    Column("input", Text),
    Column("output", Text),
    Column("model", Text),
    Column("provider", Text),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("session_id", Text),
    Column("user_id", Text),
    Column("tags", Text, nullable=False),  # JSON array
    Column("content_hash", String(64), nullable=False),
    Column("ingested_at_ns", Integer, nullable=False),
    # Also the index for "spans of a trace" (leftmost column).
    UniqueConstraint("trace_rowid", "span_id"),
    Index("ix_spans_span_bucket_span_id", "span_bucket", "span_id"),
    Index("ix_spans_project_kind_start_ns", "project", "kind", "start_ns"),
    sqlite_autoincrement=True,
)

evaluations = Table(
    "evaluations",
    metadata,
    # rowid kept (not WITHOUT ROWID) so ties on created_at_ns fall back to arrival order.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("project", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("score", Float),
    Column("label", Text),
    Column("explanation", Text),
    Column("evaluator", Text),
    Column("source", Text, nullable=False),
    Column("task_id", Text),
    Column("judge_model", Text),
    Column("latency_ms", Float),
    Column("error", Text),
    Column("created_at_ns", Integer, nullable=False),
    Index("ix_evaluations_span_id_created_at_ns", "span_id", "created_at_ns"),
    Index("ix_evaluations_trace_id_created_at_ns", "trace_id", "created_at_ns"),
    sqlite_autoincrement=True,
)

traces = Table(
    "traces",
    metadata,
    # Arrival order; referenced by spans.trace_rowid and the newest-first tie-breaker.
    Column("trace_rowid", Integer, primary_key=True),
    Column("trace_id", String(32), nullable=False, unique=True),
    Column("project", Text, nullable=False),  # the project of the trace's first stored span
    Column("start_ns", Integer, nullable=False),
    Column("end_ns", Integer, nullable=False),
    Column("root_span_id", String(16)),  # NULL until the root span arrives
    Column("name", Text),  # root span name
    Column("input_preview", Text),
    Column("output_preview", Text),
    Column("span_count", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Index("ix_traces_project_start_ns", "project", "start_ns"),
)

# Column orders used by the raw-DBAPI hot paths (insert and row -> record), kept next to
# the tables so they are derived from one definition. SPAN_COLUMNS are the ones that map
# to Span fields (ingest_seq first); trace_rowid and span_bucket are storage-internal.
SPAN_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in spans.columns if c.name not in ("trace_rowid", "span_bucket")
)
EVALUATION_COLUMNS: tuple[str, ...] = tuple(c.name for c in evaluations.columns)
TRACE_COLUMNS: tuple[str, ...] = tuple(c.name for c in traces.columns)
