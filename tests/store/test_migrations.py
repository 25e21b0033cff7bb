"""Migrations run on open: fresh file, re-open no-op, schema == schema.py, concurrent first open."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tracejudge.store.migrations import head_revision
from tracejudge.store.schema import metadata
from tracejudge.store.sqlite import SQLiteStore

from ._factory import make_span


def _schema(db_path: Path) -> list[tuple[str, str, str]]:
    raw = sqlite3.connect(db_path)
    try:
        return raw.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    finally:
        raw.close()


def test_fresh_file_gets_the_full_schema_in_wal_mode(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    names = {(t, n) for t, n, _ in _schema(db_path)}
    assert {("table", "spans"), ("table", "evaluations"), ("table", "traces")} <= names
    assert {
        ("trigger", "spans_no_update"),
        ("trigger", "spans_no_delete"),
        ("trigger", "evaluations_no_update"),
        ("trigger", "evaluations_no_delete"),
        ("index", "ix_traces_project_start_ns"),
        ("index", "ix_spans_project_kind_start_ns"),
        ("index", "ix_spans_span_bucket_span_id"),
    } <= names
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA page_size").fetchone() == (16384,)
    finally:
        raw.close()


def test_migrated_database_matches_schema_module(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_reopen_is_a_noop(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        store.write([make_span(1, 1)])
    before = _schema(db_path)
    raw = sqlite3.connect(db_path)
    schema_version = raw.execute("PRAGMA schema_version").fetchone()
    raw.close()
    with SQLiteStore(db_path) as store:
        assert len(store.list_spans()) == 1
    assert _schema(db_path) == before
    raw = sqlite3.connect(db_path)
    try:
        # schema_version is bumped by any DDL: unchanged means nothing was re-run.
        assert raw.execute("PRAGMA schema_version").fetchone() == schema_version
    finally:
        raw.close()


def _open(path: str, barrier: Any) -> None:
    barrier.wait()
    SQLiteStore(path).close()


def test_two_processes_opening_a_fresh_file_at_once(db_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_open, args=(str(db_path), barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    finally:
        raw.close()
