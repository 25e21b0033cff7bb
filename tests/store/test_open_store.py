"""open_store(): default location, paths, URLs, and the errors for what is not supported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.store import Store, default_db_path, open_store, resolve_sqlite_path
from tracejudge.store.sqlite import SQLiteStore


def test_default_path_under_tracejudge_home(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "nested" / "home"
    monkeypatch.setenv("TRACEJUDGE_HOME", str(home))
    assert default_db_path() == home / "tracejudge.db"
    assert home.is_dir()  # created so the store can be opened at once
    store = open_store()
    try:
        assert isinstance(store, Store)
        assert (home / "tracejudge.db").is_file()
    finally:
        store.close()


def test_default_home_is_dot_tracejudge(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TRACEJUDGE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_db_path() == tmp_path / ".tracejudge" / "tracejudge.db"


def test_plain_path_and_sqlite_urls(tmp_path: Path) -> None:
    target = tmp_path / "a.db"
    assert resolve_sqlite_path(target) == target
    assert resolve_sqlite_path(str(target)) == target
    assert resolve_sqlite_path(f"sqlite:///{target}") == target  # absolute: four slashes
    assert resolve_sqlite_path("sqlite:///rel/x.db") == Path("rel/x.db")
    assert resolve_sqlite_path("sqlite:///with%20space.db?mode=rw") == Path("with space.db")
    store = open_store(f"sqlite:///{target}")
    try:
        assert isinstance(store, SQLiteStore) and store.path == target
    finally:
        store.close()


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("postgresql://u@localhost/tj", "PostgreSQL support is not there yet"),
        ("postgresql+psycopg://u@localhost/tj", "PostgreSQL support is not there yet"),
        ("postgres://u@localhost/tj", "PostgreSQL support is not there yet"),
        ("mysql://u@localhost/tj", "unsupported URL scheme"),
        ("sqlite://", "expected sqlite:///<path>"),
        ("sqlite:///:memory:", "in-memory"),
        (":memory:", "in-memory"),
        ("", "db must be"),
    ],
)
def test_unsupported_db_arguments(db: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_store(db)


def test_missing_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        open_store(tmp_path / "missing" / "x.db")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"busy_timeout_ms": -1}, "busy_timeout_ms"),
        ({"busy_timeout_ms": "5"}, "busy_timeout_ms"),
        ({"synchronous": "SOMETIMES"}, "synchronous"),
        ({"cache_mib": 0}, "cache_mib"),
    ],
)
def test_bad_settings_name_the_argument(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SQLiteStore(tmp_path / "x.db", **kwargs)
    assert not (tmp_path / "x.db").exists()


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigurationError, match="cannot open SQLite store"):
        SQLiteStore(path)
