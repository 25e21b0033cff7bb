"""Initial schema: spans, evaluations, traces summary, write-once triggers.

Spelled out instead of importing ``schema.py`` on purpose: a revision is a frozen
snapshot, so a later change to ``schema.py`` must come with a new revision (a test
compares a migrated database with ``schema.metadata``).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_WRITE_ONCE = {
    "spans": "spans are write-once",
    "evaluations": "evaluations are append-only",
}


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("ingest_seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trace_rowid", sa.Integer, nullable=False),
        sa.Column("span_bucket", sa.Integer, nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("parent_span_id", sa.String(16)),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("otel_kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("start_ns", sa.Integer, nullable=False),
        sa.Column("end_ns", sa.Integer, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("links", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("input", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("provider", sa.Text),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("session_id", sa.Text),
        sa.Column("user_id", sa.Text),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("ingested_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("ingest_seq", name="pk_spans"),
        sa.UniqueConstraint("trace_rowid", "span_id", name="uq_spans_trace_rowid_span_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_spans_span_bucket_span_id", "spans", ["span_bucket", "span_id"])
    op.create_index("ix_spans_project_kind_start_ns", "spans", ["project", "kind", "start_ns"])

    op.create_table(
        "evaluations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.Text),
        sa.Column("explanation", sa.Text),
        sa.Column("evaluator", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("task_id", sa.Text),
        sa.Column("judge_model", sa.Text),
        sa.Column("latency_ms", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_evaluations"),
        sa.UniqueConstraint("id", name="uq_evaluations_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_evaluations_span_id_created_at_ns", "evaluations", ["span_id", "created_at_ns"]
    )
    op.create_index(
        "ix_evaluations_trace_id_created_at_ns", "evaluations", ["trace_id", "created_at_ns"]
    )

    op.create_table(
        "traces",
        sa.Column("trace_rowid", sa.Integer, primary_key=True),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("start_ns", sa.Integer, nullable=False),
        sa.Column("end_ns", sa.Integer, nullable=False),
        sa.Column("root_span_id", sa.String(16)),
        sa.Column("name", sa.Text),
        sa.Column("input_preview", sa.Text),
        sa.Column("output_preview", sa.Text),
        sa.Column("span_count", sa.Integer, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("trace_rowid", name="pk_traces"),
        sa.UniqueConstraint("trace_id", name="uq_traces_trace_id"),
    )
    op.create_index("ix_traces_project_start_ns", "traces", ["project", "start_ns"])

    # The database itself enforces immutability, whoever connects to it.
    for table, message in _WRITE_ONCE.items():
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    for table in _WRITE_ONCE:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    op.drop_table("traces")
    op.drop_table("evaluations")
    op.drop_table("spans")
