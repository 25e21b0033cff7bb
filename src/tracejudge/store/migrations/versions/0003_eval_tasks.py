"""Eval tasks: definitions (versioned), per-span outcomes (the run log), cursors and leases.

Spelled out like 0001 (a revision is a frozen snapshot); the current shape is in
``tracejudge.store.tasks``, imported here only so that its tables are registered on
``schema.metadata`` whenever migrations are loaded, for the schema-drift check.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tracejudge.store.tasks  # noqa: F401  (registers the eval-task tables on schema.metadata)

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_WRITE_ONCE = {"eval_task_versions": "eval task versions are write-once"}


def upgrade() -> None:
    op.create_table(
        "eval_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.Column("updated_at_ns", sa.Integer, nullable=False),
        sa.Column("high_water_seq", sa.Integer),
        sa.Column("cursor", sa.Integer, nullable=False),
        sa.Column("considered", sa.Integer, nullable=False),
        sa.Column("admitted", sa.Integer, nullable=False),
        sa.Column("judge_prompt_tokens", sa.Integer, nullable=False),
        sa.Column("judge_completion_tokens", sa.Integer, nullable=False),
        sa.Column("judge_calls", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("backoff_until_ns", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_ns", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_eval_tasks"),
    )
    op.create_index("ix_eval_tasks_project_name", "eval_tasks", ["project", "name"])

    op.create_table(
        "eval_task_versions",
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "version", name="pk_eval_task_versions"),
    )

    op.create_table(
        "eval_task_outcomes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("evaluator", sa.Text, nullable=False),
        sa.Column("ingest_seq", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("next_attempt_at_ns", sa.Integer),
        sa.Column("evaluation_id", sa.Text),
        sa.Column("updated_at_ns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_eval_task_outcomes"),
        sa.UniqueConstraint(
            "task_id",
            "ingest_seq",
            "evaluator",
            name="uq_eval_task_outcomes_task_id_ingest_seq_evaluator",
        ),
    )
    op.create_index(
        "ix_eval_task_outcomes_task_id_outcome_next_attempt_at_ns",
        "eval_task_outcomes",
        ["task_id", "outcome", "next_attempt_at_ns"],
    )

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
    op.drop_table("eval_task_outcomes")
    op.drop_table("eval_task_versions")
    op.drop_table("eval_tasks")
