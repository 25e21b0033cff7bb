"""Review: human annotations (append-only), review queues and the failure taxonomy.

Placeholder revision in the chain (0003 -> 0004 -> 0005) so later revisions can be built
in parallel; the review tables are filled in by the review work.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
