"""Alembic environment for the embedded store.

Only the programmatic path is supported: :func:`tracejudge.store.sqlite.SQLiteStore`
builds the Alembic ``Config`` in code and passes an open SQLAlchemy connection (already
inside ``BEGIN IMMEDIATE``, so two processes opening a fresh file cannot both migrate it)
as ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from tracejudge.errors import ConfigurationError
from tracejudge.store.schema import metadata

__all__: list[str] = []

connection = context.config.attributes.get("connection")
if connection is None:
    raise ConfigurationError(
        "tracejudge migrations run through tracejudge.store.open_store(), "
        "which passes the connection in config.attributes['connection']"
    )

# render_as_batch: SQLite cannot ALTER most things; batch mode recreates tables instead.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
