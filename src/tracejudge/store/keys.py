"""API keys in the embedded SQLite file: the ``api_keys`` table and :class:`SQLiteKeyStore`.

The table lives in the same file as the spans (created by migration ``0002``), so a
server and ``tracejudge keys ...`` run from a shell agree on the keys without another
service. Only hashes are stored (see :mod:`tracejudge.keys`). Changes open a short
connection; the two checks a server makes on every request (``has_active``, ``verify``)
reuse one connection per thread (opening one costs ~0.3 ms, which is most of a
request's key check). Each query is its own read transaction, so a key created or
revoked by the CLI in another process is seen on the very next request either way.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import Column, Index, Integer, String, Table, Text

from tracejudge.errors import ConfigurationError, NotFound
from tracejudge.keys import ApiKey, hash_key, key_matches, lookup_prefix, new_secret
from tracejudge.store.base import tables_required
from tracejudge.store.schema import metadata

__all__ = ["SQLiteKeyStore", "api_keys"]

# Registered on the store's metadata so the "migrated database == schema" check sees it.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", Text, nullable=False),
    Column("name", Text),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at_ns", Integer, nullable=False),
    Column("revoked_at_ns", Integer),
    Index("ix_api_keys_prefix", "prefix"),
)

_COLUMNS = "id, project, name, prefix, created_at_ns, revoked_at_ns"


class SQLiteKeyStore:
    """:class:`tracejudge.keys.KeyStore` over the ``api_keys`` table of a store file.

    Example::

        keys = SQLiteKeyStore(store.path)
        record, secret = keys.create("shop")   # print(secret) once; it is not stored

    ``path`` must be a database already migrated by :func:`tracejudge.store.open_store`;
    otherwise :class:`ConfigurationError` is raised on first use.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 5000) -> None:
        self.path = os.fspath(path)
        self._timeout_s = busy_timeout_ms / 1000
        self._per_thread = threading.local()  # .conn: this thread's reading connection

    def _read(self, sql: str, params: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only query on this thread's long-lived connection."""
        conn = getattr(self._per_thread, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            self._per_thread.conn = conn
        with tables_required(self.path, "api_keys table"):
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; commits on success, rolls back on error."""
        with (
            closing(sqlite3.connect(self.path, timeout=self._timeout_s)) as conn,
            tables_required(self.path, "api_keys table"),
            conn,
        ):
            yield conn

    def create(self, project: str, name: str | None = None) -> tuple[ApiKey, str]:
        if not project:
            raise ConfigurationError("project must not be empty")
        secret = new_secret()
        record = ApiKey(
            id=uuid.uuid4().hex,
            project=project,
            name=name,
            prefix=lookup_prefix(secret) or "",
            created_at_ns=time.time_ns(),
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO api_keys (id, project, name, prefix, key_hash, created_at_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, project, name, record.prefix, hash_key(secret), record.created_at_ns),
            )
        return record, secret

    def verify(self, key: str) -> ApiKey | None:
        prefix = lookup_prefix(key)
        if prefix is None:
            return None
        rows = self._read(
            f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE prefix = ? AND revoked_at_ns IS NULL",
            (prefix,),
        )
        found = None
        for row in rows:  # compare every candidate so timing does not depend on the match
            if key_matches(key, row[-1]):
                found = ApiKey(*row[:-1])
        return found

    def revoke(self, key_id_or_prefix: str) -> ApiKey:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE id = ? OR prefix = ?",
                (key_id_or_prefix, key_id_or_prefix),
            ).fetchall()
            if not rows:
                raise NotFound(f"no API key with id or prefix {key_id_or_prefix!r}")
            if len(rows) > 1:
                raise ConfigurationError(
                    f"{key_id_or_prefix!r} matches {len(rows)} keys; revoke by id instead"
                )
            record = ApiKey(*rows[0])
            if record.revoked_at_ns is None:
                now = time.time_ns()
                conn.execute("UPDATE api_keys SET revoked_at_ns = ? WHERE id = ?", (now, record.id))
                record = replace(record, revoked_at_ns=now)
        return record

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        sql = f"SELECT {_COLUMNS} FROM api_keys"
        params: tuple[str, ...] = ()
        if project is not None:
            sql += " WHERE project = ?"
            params = (project,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY created_at_ns, id", params).fetchall()
        return [ApiKey(*row) for row in rows]

    def has_active(self) -> bool:
        return bool(self._read("SELECT 1 FROM api_keys WHERE revoked_at_ns IS NULL LIMIT 1"))
