"""Alembic migrations for the embedded store, applied in code when a store is opened.

Users never run ``alembic`` themselves: :func:`upgrade_to_head` builds the Alembic
``Config`` programmatically with ``script_location`` pointing inside the installed package.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

__all__ = ["SCRIPT_LOCATION", "alembic_config", "head_revision", "upgrade_to_head"]

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """An Alembic ``Config`` for the packaged scripts, without any ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    return cfg


def head_revision() -> str:
    """The newest revision id shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # at least one revision ships with the package
    return head


def _current_revision(raw: sqlite3.Connection) -> str | None:
    """The revision stamped in the file, or None for a fresh / pre-Alembic file."""
    try:
        row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no alembic_version table yet
        return None
    return None if row is None else str(row[0])


def upgrade_to_head(connect: Callable[[], sqlite3.Connection]) -> None:
    """Bring the database reached by ``connect`` to the head revision.

    ``connect`` returns a configured DBAPI connection in autocommit mode
    (``isolation_level=None``). An up-to-date file costs one SELECT. Otherwise the upgrade
    runs inside ``BEGIN IMMEDIATE`` (SQLite has transactional DDL), so a second process
    opening the same fresh file waits for the first and then finds nothing to do.
    """
    probe = connect()
    try:
        if _current_revision(probe) == head_revision():
            return
    finally:
        probe.close()

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # pysqlite would not emit BEGIN before DDL; take the write lock up front instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.connect() as conn, conn.begin():
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
