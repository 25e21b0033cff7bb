"""Storage of spans and evaluations: pick and open a :class:`Store` from a path or URL.

Example::

    from tracejudge.store import open_store

    store = open_store()                       # $TRACEJUDGE_HOME/tracejudge.db
    store = open_store("traces.db")            # a plain path
    store = open_store("sqlite:////abs/x.db")  # an SQLAlchemy-style URL
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from tracejudge.errors import ConfigurationError
from tracejudge.store.base import Store, VerifyReport
from tracejudge.store.sqlite import SQLiteStore

__all__ = [
    "DB_FILENAME",
    "HOME_ENV",
    "SQLiteStore",
    "Store",
    "VerifyReport",
    "default_db_path",
    "open_store",
    "resolve_sqlite_path",
]

HOME_ENV = "TRACEJUDGE_HOME"
DB_FILENAME = "tracejudge.db"
_POSTGRES_SCHEMES = ("postgresql:", "postgresql+", "postgres:")


def default_db_path() -> Path:
    """``$TRACEJUDGE_HOME/tracejudge.db`` (home defaults to ``~/.tracejudge``).

    Creates the home directory if it is missing, so the result can be opened at once.
    """
    home = Path(os.environ.get(HOME_ENV) or Path.home() / ".tracejudge").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home / DB_FILENAME


def resolve_sqlite_path(db: str | os.PathLike[str] | None) -> Path:
    """The SQLite file a ``db`` argument names.

    Raises:
        ConfigurationError: a PostgreSQL URL (not supported yet), another URL scheme, or
            an in-memory database (the store is shared across connections and processes).
    """
    if db is None:
        return default_db_path()
    if isinstance(db, os.PathLike):
        return Path(db).expanduser()
    if not isinstance(db, str) or not db:
        raise ConfigurationError(f"db must be a path, a sqlite:/// URL or None, got {db!r}")
    if db.lower().startswith(_POSTGRES_SCHEMES):
        raise ConfigurationError(
            "db: PostgreSQL support is not there yet; use a SQLite path or sqlite:/// URL"
        )
    if db.lower().startswith("sqlite:"):
        if not db.lower().startswith("sqlite:///"):
            raise ConfigurationError(f"db: expected sqlite:///<path>, got {db!r}")
        path = unquote(db[len("sqlite:///") :].split("?", 1)[0])
        if not path or path == ":memory:":
            raise ConfigurationError(
                "db: an in-memory SQLite store is not supported; give a file path"
            )
        return Path(path).expanduser()
    if "://" in db:
        raise ConfigurationError(f"db: unsupported URL scheme in {db!r}")
    if db == ":memory:":
        raise ConfigurationError("db: an in-memory SQLite store is not supported; give a file path")
    return Path(db).expanduser()


def open_store(db: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating and migrating if needed) the store ``db`` names.

    ``db``: None for :func:`default_db_path`, a file path, or ``sqlite:///path``
    (``sqlite:////abs/path`` for an absolute path). Raises :class:`ConfigurationError`
    for anything else, e.g. ``postgresql://...`` which is not supported yet.
    """
    return SQLiteStore(resolve_sqlite_path(db))
