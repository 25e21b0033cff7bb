"""Project API keys: the ``api_keys`` table (hashes only; see tracejudge.keys).

Spelled out like 0001 (a revision is a frozen snapshot); the current shape is
``tracejudge.store.keys.api_keys``, which is imported here only so that it is registered
on ``schema.metadata`` whenever migrations are loaded, for the schema-drift check.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tracejudge.store.keys  # noqa: F401  (registers api_keys on schema.metadata)

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.Integer, nullable=False),
        sa.Column("revoked_at_ns", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])


def downgrade() -> None:
    op.drop_table("api_keys")
