"""The review pages in-process (no browser): forms, CSRF, autosave JSON, escaping."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from store._factory import tid
from tracejudge.server.app import create_app
from tracejudge.server.ui.auth import SESSION_COOKIE, make_session_cookie
from tracejudge.store import open_store
from tracejudge.store.review import SQLiteReviewStore


@pytest.fixture
def ui(db_path: Path) -> Iterator[TestClient]:
    store = open_store(db_path)
    try:
        app = create_app(store)
        with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
            client.cookies.set(
                SESSION_COOKIE, make_session_cookie(app.state.ui_secret, "ana", None)
            )
            yield client
    finally:
        store.close()


def _csrf(client: TestClient, path: str) -> str:
    html = client.get(path).text
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_build_a_queue_and_label_through_the_page_endpoints(ui: TestClient, db_path: Path) -> None:
    token = _csrf(ui, "/projects/shop/queues")
    made = ui.post(
        "/projects/shop/queues",
        data={"csrf_token": token, "name": "llm", "mode": "filter", "filter": 'kind == "LLM"'},
    )
    assert made.status_code == 303, made.text
    queue_url = made.headers["location"]
    first = ui.get(queue_url)
    assert first.status_code == 303  # claims the first item for ana
    item_url = first.headers["location"]
    assert item_url.endswith(f"?trace={tid(12)}")
    page = ui.get(item_url)
    assert page.status_code == 200
    assert "0 of 6 labelled" in page.text and "data-label-panel" in page.text
    queue_id = queue_url.rsplit("/", 1)[1]
    saved = ui.post(
        "/review/annotate",
        json={"trace_id": tid(12), "label": "fail", "note": "n", "queue_id": queue_id},
        headers={"X-CSRF-Token": token},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["annotation"]["annotator"] == "ana"
    assert saved.json()["progress"] == "1 of 6 labelled"
    # The next claim moves on; a prefix jumps to an item.
    assert ui.get(queue_url).headers["location"].endswith(f"?trace={tid(10)}")
    assert ui.get(queue_url, params={"trace": tid(8)}).status_code == 200
    jump = ui.get(queue_url, params={"trace": " " + tid(10).upper()})  # normalized
    assert jump.status_code == 303 and jump.headers["location"].endswith(tid(10))
    ambiguous = ui.get(queue_url, params={"trace": "0000"})
    assert ambiguous.status_code == 404 and "type more of it" in ambiguous.text
    assert ui.get(queue_url, params={"trace": "ffff"}).status_code == 404
    undone = ui.post("/review/undo", json={"trace_id": tid(12)}, headers={"X-CSRF-Token": token})
    assert undone.json()["annotation"]["label"] is None
    assert undone.json()["progress"] == "0 of 6 labelled"


def test_writes_without_the_csrf_token_are_refused(ui: TestClient, db_path: Path) -> None:
    refused = ui.post("/review/annotate", json={"trace_id": tid(1), "label": "pass"})
    assert refused.status_code == 403
    form = ui.post("/projects/shop/queues", data={"name": "q", "mode": "sample", "size": "3"})
    assert form.status_code == 403
    assert _count(db_path, "annotations") == 0 and _count(db_path, "review_queues") == 0


def test_bad_input_is_shown_and_nothing_is_written(ui: TestClient, db_path: Path) -> None:
    token = _csrf(ui, "/projects/shop/queues")
    bad_filter = ui.post(
        "/projects/shop/queues",
        data={"csrf_token": token, "name": "q", "mode": "filter", "filter": "kind =="},
    )
    assert bad_filter.status_code == 400 and "position" in bad_filter.text
    bad_label = ui.post(
        "/review/annotate",
        json={"trace_id": tid(1), "label": "maybe"},
        headers={"X-CSRF-Token": token},
    )
    assert bad_label.status_code == 400 and "label" in bad_label.json()["detail"]
    assert _count(db_path, "annotations") == 0 and _count(db_path, "review_queues") == 0


def test_taxonomy_page_assigns_categories_and_escapes_notes(ui: TestClient, db_path: Path) -> None:
    review = SQLiteReviewStore(db_path)
    note = review.annotate(
        "shop", tid(1), "bo", label="fail", note="<script>alert(1)</script> **x**"
    )
    token = _csrf(ui, "/projects/shop/taxonomy")
    made = ui.post(
        "/projects/shop/categories",
        data={"csrf_token": token, "name": "Injection", "definition": "prompt <b>injection</b>"},
    )
    assert made.status_code == 303
    (category,) = review.categories("shop")
    assigned = ui.post(
        "/projects/shop/taxonomy/assign",
        data={"csrf_token": token, "annotation_id": note.id, "category": category.id},
    )
    assert assigned.status_code == 303
    html = ui.get("/projects/shop/taxonomy").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "prompt &lt;b&gt;injection&lt;/b&gt;" in html
    row = re.search(
        r'data-category="Injection">.*?data-count>(\d+)<.*?data-rate>([^<]+)<', html, re.S
    )
    assert row and row.groups() == ("1", "100%")
    (current,) = review.current("shop")
    assert (current.annotator, current.author, current.failure_modes) == (
        "bo",
        "ana",
        (category.id,),
    )


def test_label_panel_fragment_shows_my_state_and_others(ui: TestClient, db_path: Path) -> None:
    review = SQLiteReviewStore(db_path)
    review.annotate("shop", tid(1), "ana", label="defer", note="check price")
    review.annotate("shop", tid(1), "bo", label="pass")
    html = ui.get(f"/review/traces/{tid(1)}/panel").text
    assert 'data-label="defer"' in html and "check price" in html
    assert "bo: pass" in html
    assert (
        ui.get(f"/review/traces/{tid(99)}/panel").status_code == 200
    )  # other project, open server
    assert ui.get(f"/review/traces/{tid(77)}/panel").status_code == 404


def test_a_key_session_labels_only_its_own_project(db_path: Path) -> None:
    from tracejudge.store.keys import SQLiteKeyStore

    record, _ = SQLiteKeyStore(db_path).create("shop", "reviewer-1")
    store = open_store(db_path)
    try:
        app = create_app(store)
        with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
            cookie = make_session_cookie(app.state.ui_secret, "reviewer-1", record)
            client.cookies.set(SESSION_COOKIE, cookie)
            token = _csrf(client, "/projects/shop/queues")
            headers = {"X-CSRF-Token": token}
            ok = client.post(
                "/review/annotate", json={"trace_id": tid(1), "label": "pass"}, headers=headers
            )
            assert ok.status_code == 200 and ok.json()["annotation"]["annotator"] == "reviewer-1"
            other = client.post(
                "/review/annotate", json={"trace_id": tid(99), "label": "pass"}, headers=headers
            )
            assert other.status_code == 404
            assert client.get(f"/review/traces/{tid(99)}/panel").status_code == 404
            assert client.get("/projects/other/queues").status_code == 404
            assert client.get("/projects/other/taxonomy").status_code == 404
    finally:
        store.close()
    assert _count(db_path, "annotations") == 1
