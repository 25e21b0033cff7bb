"""Review: human annotations (append-only), review queues, queue claims, failure categories.

Spelled out like 0001 (a revision is a frozen snapshot); the current shapes are the tables
in ``tracejudge.store.review``, imported here only so that they are registered on
``schema.metadata`` whenever migrations are loaded, for the schema-drift check. Every
table holds immutable records: triggers reject UPDATE and DELETE, as for spans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tracejudge.store.review  # noqa: F401  (registers the review tables on schema.metadata)

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_APPEND_ONLY = {
    "annotations": "annotations are append-only",
    "review_queues": "review queues are immutable",
    "review_claims": "review claims are append-only",
    "categories": "categories are append-only",
}


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16)),
        sa.Column("annotator", sa.Text, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("failure_modes", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("supersedes", sa.String(32)),
        sa.Column("queue_id", sa.String(32)),
        sa.Column("author", sa.Text),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_annotations"),
        sa.UniqueConstraint("id", name="uq_annotations_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_annotations_project_trace_id_annotator",
        "annotations",
        ["project", "trace_id", "annotator"],
    )
    op.create_table(
        "review_queues",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_queues"),
    )
    op.create_index(
        "ix_review_queues_project_created_at_ns", "review_queues", ["project", "created_at_ns"]
    )
    op.create_table(
        "review_claims",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("annotator", sa.Text, nullable=False),
        sa.Column("claimed_at_ns", sa.Integer, nullable=False),
        sa.Column("expires_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_review_claims"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_review_claims_queue_id_trace_id", "review_claims", ["queue_id", "trace_id"])
    op.create_table(
        "categories",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
    )
    op.create_index("ix_categories_project_name", "categories", ["project", "name"], unique=True)
    for table, message in _APPEND_ONLY.items():
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    for table in _APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    for table in reversed(tuple(_APPEND_ONLY)):
        op.drop_table(table)
