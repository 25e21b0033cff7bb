"""API keys on the real server: 401 without a valid key, projects cannot see each other."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from tests.server.conftest import PROTOBUF, LiveServer, llm_trace, make_request

from tracejudge.errors import ConfigurationError
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.review import SQLiteReviewStore


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_open_until_the_first_key_exists(live_server: LiveServer, http: httpx.Client) -> None:
    assert http.get(live_server.url + "/api/v1/projects").status_code == 200
    ok = http.post(live_server.traces_url, content=make_request(llm_trace(1)), headers=PROTOBUF)
    assert ok.status_code == 200

    live_server.keys.create("shop")
    response = http.get(live_server.url + "/api/v1/projects")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert http.get(live_server.url + "/healthz").status_code == 200  # always open


@pytest.fixture
def two_projects(live_server: LiveServer, http: httpx.Client) -> tuple[str, str]:
    """Key A for project "shop", key B for "bank", one trace in each (sent with its key)."""
    _, key_a = live_server.keys.create("shop", "a")
    _, key_b = live_server.keys.create("bank", "b")
    for key, trace in ((key_a, 1), (key_b, 2)):
        response = http.post(
            live_server.traces_url,
            content=make_request(llm_trace(trace), service="whatever"),
            headers={**PROTOBUF, **_bearer(key)},
        )
        assert response.status_code == 200, response.content
    return key_a, key_b


def test_a_key_writes_into_its_own_project(live_server: LiveServer, two_projects) -> None:
    assert {s.project for s in live_server.store.trace_spans(f"{1:032x}")} == {"shop"}
    assert {s.project for s in live_server.store.trace_spans(f"{2:032x}")} == {"bank"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _bearer("tj_not-a-real-key-at-all-000000000000000000"),
        _bearer("nope"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "unknown", "malformed", "basic"],
)
def test_missing_or_wrong_key_is_401_and_writes_nothing(
    live_server: LiveServer, http: httpx.Client, two_projects, headers: dict[str, str]
) -> None:
    before = live_server.span_count()
    response = http.post(
        live_server.traces_url, content=make_request(llm_trace(3)), headers={**PROTOBUF, **headers}
    )
    assert response.status_code == 401
    assert live_server.span_count() == before
    for path in ("/api/v1/projects", "/api/v1/traces?project=shop", f"/api/v1/traces/{1:032x}"):
        assert http.get(live_server.url + path, headers=headers).status_code == 401


def test_key_of_one_project_cannot_touch_another(
    live_server: LiveServer, http: httpx.Client, two_projects
) -> None:
    key_a, _ = two_projects
    a = _bearer(key_a)
    base = live_server.url + "/api/v1"
    bank_trace = f"{2:032x}"
    bank_span = f"{21:016x}"

    # Naming the other project: 403. Its records by id: 404. Nothing of it is listed.
    assert http.get(base + "/traces?project=bank", headers=a).status_code == 403
    assert http.get(base + "/spans?project=bank", headers=a).status_code == 403
    assert http.get(base + f"/traces/{bank_trace}", headers=a).status_code == 404
    assert http.get(base + f"/spans/{bank_span}", headers=a).status_code == 404
    assert http.get(base + "/projects", headers=a).json()["data"] == [{"name": "shop"}]
    spans = http.get(base + "/spans", headers=a).json()["data"]
    assert spans and {s["project"] for s in spans} == {"shop"}
    assert http.get(base + f"/traces/{bank_trace}/evaluations", headers=a).json()["data"] == []
    post = http.post(
        base + "/evaluations", json={"span_id": bank_span, "name": "x", "score": 1}, headers=a
    )
    assert post.status_code == 404
    assert live_server.store.evaluations(span_id=bank_span) == []
    assert http.get(base + f"/spans/{bank_span}/evaluations", headers=a).json()["data"] == []

    # Writing into the other project via the project header: 403, nothing written.
    before = live_server.span_count()
    response = http.post(
        live_server.traces_url,
        content=make_request(llm_trace(4)),
        headers={**PROTOBUF, **a, "x-tracejudge-project": "bank"},
    )
    assert response.status_code == 403
    assert live_server.span_count() == before

    # Its own project works.
    own = http.get(base + "/traces", headers=a).json()
    assert [t["trace_id"] for t in own["data"]] == [f"{1:032x}"]


def test_revoked_key_is_refused_on_the_next_request(
    live_server: LiveServer, http: httpx.Client, two_projects
) -> None:
    key_a, key_b = two_projects
    assert http.get(live_server.url + "/api/v1/projects", headers=_bearer(key_a)).status_code == 200
    record = live_server.keys.verify(key_a)
    assert record is not None
    live_server.keys.revoke(record.id)
    assert http.get(live_server.url + "/api/v1/projects", headers=_bearer(key_a)).status_code == 401
    assert http.get(live_server.url + "/api/v1/projects", headers=_bearer(key_b)).status_code == 200


def test_keys_are_stored_hashed(live_server: LiveServer, two_projects) -> None:
    key_a, key_b = two_projects
    dump = "\n".join(sqlite3.connect(live_server.db_path).iterdump())
    assert "api_keys" in dump
    assert key_a not in dump and key_b not in dump
    assert key_a[3:] not in dump  # not even the secret part


def test_a_key_store_sees_keys_changed_by_another_process_at_once(
    live_server: LiveServer,
) -> None:
    """The server's per-thread reading connection stays open between requests; each check
    must still see what the CLI (another connection) created or revoked just before."""
    server_side = SQLiteKeyStore(live_server.db_path)
    assert not server_side.has_active()  # opens this thread's connection
    record, secret = live_server.keys.create("shop")
    assert server_side.has_active()
    verified = server_side.verify(secret)
    assert verified is not None and verified.id == record.id
    live_server.keys.revoke(record.id)
    assert server_side.verify(secret) is None
    assert not server_side.has_active()


def test_stores_on_an_unmigrated_file_say_so(tmp_path) -> None:
    path = tmp_path / "plain.db"
    sqlite3.connect(path).close()
    keys, review = SQLiteKeyStore(path), SQLiteReviewStore(path)
    for call, what in (
        (keys.has_active, "api_keys table"),
        (lambda: keys.create("shop"), "api_keys table"),
        (keys.list_keys, "api_keys table"),
        (lambda: review.queues("shop"), "review tables"),
    ):
        with pytest.raises(ConfigurationError, match=f"no {what}: open it with open_store"):
            call()
