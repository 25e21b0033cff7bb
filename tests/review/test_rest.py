"""The review REST API in-process: scoping by key, annotator from the key, 400s write nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from store._factory import sid, tid
from tracejudge.server.app import create_app
from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore


@pytest.fixture
def api(db_path: Path) -> Iterator[TestClient]:
    store = open_store(db_path)
    try:
        with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
            yield client
    finally:
        store.close()


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_annotate_undo_and_read_back_on_an_open_server(api: TestClient) -> None:
    made = api.post(
        "/api/v1/categories", json={"project": "shop", "name": "Tone", "definition": "rude"}
    )
    assert made.status_code == 201, made.text
    cat = made.json()
    body = {
        "trace_id": tid(1),
        "annotator": "ana",
        "label": "fail",
        "note": "curt",
        "failure_modes": ["tone"],
    }
    first = api.post("/api/v1/annotations", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["failure_modes"] == [cat["id"]]
    assert first.json()["project"] == "shop"  # inferred from the trace
    api.post("/api/v1/annotations", json={**body, "label": "pass"})
    undone = api.post("/api/v1/annotations/undo", json={"trace_id": tid(1), "annotator": "ana"})
    assert undone.status_code == 201 and undone.json()["label"] == "fail"
    current = api.get(f"/api/v1/traces/{tid(1)}/annotations").json()
    assert [(a["annotator"], a["label"]) for a in current["data"]] == [("ana", "fail")]
    history = api.get(f"/api/v1/traces/{tid(1)}/annotations", params={"history": True}).json()
    assert [a["action"] for a in history["data"]] == ["set", "set", "undo"]
    tax = api.get("/api/v1/taxonomy", params={"project": "shop"}).json()
    assert (tax["reviewed"], tax["counts"][0]["traces"], tax["counts"][0]["rate"]) == (1, 1, 1.0)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"label": "maybe"}, 400, "label"),
        ({"label": "pass", "annotator": None}, 400, "annotator"),
        ({"label": "pass", "failure_modes": ["unknown"]}, 400, "no such category"),
        ({"label": "pass", "span_id": sid(21)}, 404, "no span"),
        ({"label": "pass", "trace_id": tid(77)}, 404, "no trace"),
        ({"note": "x" * 20_001}, 400, "note"),
        ({}, 400, "nothing to save"),
    ],
)
def test_bad_annotations_answer_with_the_reason_and_write_nothing(
    api: TestClient, db_path: Path, body: dict, status: int, detail: str
) -> None:
    payload = {"trace_id": tid(1), "annotator": "ana", **body}
    response = api.post("/api/v1/annotations", json=payload)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert _rows(db_path, "annotations") == 0


def test_queue_over_rest_hands_out_distinct_items(api: TestClient, db_path: Path) -> None:
    bad = api.post("/api/v1/queues", json={"project": "shop", "name": "q", "filter": "kind =="})
    assert bad.status_code == 400 and bad.json()["position"] == 8
    assert _rows(db_path, "review_queues") == 0
    made = api.post("/api/v1/queues", json={"project": "shop", "name": "q", "sample": 3, "seed": 5})
    assert made.status_code == 201, made.text
    queue = made.json()
    assert queue["progress"]["text"] == "0 of 3 labelled"
    url = f"/api/v1/queues/{queue['id']}/next"
    a = api.post(url, json={"annotator": "ana"}).json()["trace_id"]
    b = api.post(url, json={"annotator": "bo"}).json()["trace_id"]
    assert a != b and {a, b} <= set(queue["items"])
    api.post("/api/v1/annotations", json={"trace_id": a, "annotator": "ana", "label": "pass"})
    got = api.get(f"/api/v1/queues/{queue['id']}").json()
    assert got["progress"]["labelled"] == 1 and got["progress"]["text"] == "1 of 3 labelled"
    assert [
        q["id"] for q in api.get("/api/v1/queues", params={"project": "shop"}).json()["data"]
    ] == [queue["id"]]


def test_a_key_annotates_as_itself_and_only_in_its_project(api: TestClient, db_path: Path) -> None:
    keys = SQLiteKeyStore(db_path)
    _, shop = keys.create("shop", "reviewer-1")
    _, other = keys.create("other", "reviewer-2")
    auth = {"Authorization": f"Bearer {shop}"}
    ok = api.post("/api/v1/annotations", json={"trace_id": tid(1), "label": "pass"}, headers=auth)
    assert ok.status_code == 201 and ok.json()["annotator"] == "reviewer-1"
    spoof = api.post(
        "/api/v1/annotations",
        json={"trace_id": tid(1), "label": "pass", "annotator": "someone-else"},
        headers=auth,
    )
    assert spoof.status_code == 403
    foreign = api.post(
        "/api/v1/annotations",
        json={"trace_id": tid(1), "label": "fail"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert foreign.status_code == 404  # another project's trace does not exist for it
    assert api.get("/api/v1/taxonomy", params={"project": "other"}, headers=auth).status_code == 403
    assert (
        api.post("/api/v1/annotations", json={"trace_id": tid(1), "label": "pass"}).status_code
        == 401
    )
    assert _rows(db_path, "annotations") == 1
