"""Eval tasks: definitions (versioned), per-span outcomes (the run log) and cursors.

Placeholder revision in the chain (0002 -> 0003 -> 0004) so later revisions can be built
in parallel; the eval-task tables are filled in by the eval-tasks work.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
