from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tracejudge.store.sqlite import SQLiteStore

from ._factory import CLOCK_NS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path, clock=lambda: CLOCK_NS) as s:
        yield s
