"""Browser tests of the web UI: a real server over the demo data, driven by real Chromium.

Fixtures (shared by every UI test, including the review pages' tests):

- ``demo_db``: one offline ``tracejudge demo`` run per session (about 3 s), written to a
  SQLite file; ``demo_run`` is its :class:`~tracejudge.demo.DemoRun`.
- ``ui_server``: a copy of that file served by the real app (uvicorn on 127.0.0.1, as in
  tests/server), fresh per test so labels written by one test never leak into another.
- ``browser``-level: ``chromium`` is Debian's ``/usr/bin/chromium`` launched headless
  through Playwright's sync API (never ``playwright install``); ``page`` is a new context
  + page per test. A missing chromium FAILS the tests with the command that installs it.
- ``artifacts``: where screenshots go (``$TRACEJUDGE_ARTIFACTS`` or tests/ui/artifacts/).
- ``sign_in(page, server, name=..., api_key=...)``: goes through the real login form.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.server.conftest import run_server

from tracejudge.demo import DemoRun, run_demo
from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.sqlite import SQLiteStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS_ENV = "TRACEJUDGE_ARTIFACTS"
REVIEWER = "ada"


@dataclass
class UiServer:
    """A running server: its base URL, store and key store (same SQLite file)."""

    url: str
    store: SQLiteStore
    keys: SQLiteKeyStore
    db_path: Path

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    db = tmp_path_factory.mktemp("ui-demo") / "demo.db"
    run = run_demo(db, env={})  # no OPENAI_* variables: the offline demo model
    # Fold the WAL into the main file so a plain file copy is the whole database.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return run


@pytest.fixture(scope="session")
def demo_db(demo_run: DemoRun) -> Path:
    return demo_run.db_path


def serve_copy(source: Path, target: Path) -> Iterator[UiServer]:
    """Copy the database file ``source`` to ``target`` and serve it until closed."""
    shutil.copyfile(source, target)
    store = open_store(target)
    assert isinstance(store, SQLiteStore)
    try:
        with run_server(store) as url:
            yield UiServer(url, store, SQLiteKeyStore(target), target)
    finally:
        store.close()


@pytest.fixture
def ui_server(demo_db: Path, tmp_path: Path) -> Iterator[UiServer]:
    yield from serve_copy(demo_db, tmp_path / "ui.db")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get(ARTIFACTS_ENV) or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium(demo_run: DemoRun) -> Iterator[Any]:
    """Debian's chromium via Playwright (sync API). Fails, never skips, when it is missing.

    Depends on ``demo_run`` so the demo is built first: Playwright's sync API keeps an
    asyncio loop running in this thread, and the demo's eval tasks run their own loop.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: the UI tests need Debian's chromium "
            "(`apt-get update && apt-get install -y chromium`; .ci/run does this)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; a JS dialog fails the test."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # inspected by tests that must prove no script ran
    try:
        yield page
    finally:
        context.close()


def sign_in(
    page: Any, server: UiServer, *, name: str = REVIEWER, api_key: str | None = None
) -> None:
    """Sign in through the real login form (a reviewer name, or an API key when given)."""
    page.goto(server.at("/login"))
    if api_key is not None:
        page.fill("#api_key", api_key)
    else:
        page.fill("#name", name)
    page.click("button[type=submit]")
    page.wait_for_load_state()
