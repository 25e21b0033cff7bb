"""The REST API on a real server, and the remote client giving the same records as the
embedded ``Client`` over the same store."""

from __future__ import annotations

import httpx
import pytest
from tests.server.conftest import PROTOBUF, LiveServer, llm_trace, make_request, make_span

from tracejudge.client import Client
from tracejudge.errors import ConfigurationError, SpanNotFound, StoreError, TraceNotFound
from tracejudge.model import Evaluation
from tracejudge.remote import AuthenticationError


@pytest.fixture
def loaded(live_server: LiveServer, http: httpx.Client) -> LiveServer:
    """Five 3-span traces in "shop" and one orphan-only trace in "bank"."""
    spans = [s for t in range(1, 6) for s in llm_trace(t)]
    response = http.post(live_server.traces_url, content=make_request(spans), headers=PROTOBUF)
    assert response.status_code == 200
    orphan = make_request([make_span(9, 92, 91, name="late-child")], service="bank")
    assert http.post(live_server.traces_url, content=orphan, headers=PROTOBUF).status_code == 200
    return live_server


def test_trace_list_newest_first_with_cursor(loaded: LiveServer, http: httpx.Client) -> None:
    base = loaded.url + "/api/v1/traces"
    page1 = http.get(base, params={"project": "shop", "limit": 2}).json()
    assert [t["trace_id"] for t in page1["data"]] == [f"{5:032x}", f"{4:032x}"]
    assert page1["count"] == 2
    first = page1["data"][0]
    assert first["name"] == "agent"
    assert first["input_preview"] == "q5"
    assert first["span_count"] == 3
    assert first["prompt_tokens"] == 10 and first["total_tokens"] == 15
    assert first["latency_ms"] == pytest.approx(2.5)  # root start to last child end
    page2 = http.get(base, params={"project": "shop", "limit": 2, "before": page1["next_before"]})
    assert [t["trace_id"] for t in page2.json()["data"]] == [f"{3:032x}", f"{2:032x}"]
    last = http.get(base, params={"project": "shop", "limit": 10}).json()
    assert last["count"] == 5 and last["next_before"] is None


def test_trace_is_a_tree_with_evaluations(loaded: LiveServer, http: httpx.Client) -> None:
    api = loaded.url + "/api/v1"
    created = http.post(
        api + "/evaluations",
        json={"span_id": f"{12:016x}", "name": "correct", "score": 1.0, "label": "pass"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "import"

    tree = http.get(api + f"/traces/{1:032x}").json()
    assert tree["span_count"] == 3 and tree["project"] == "shop"
    [root] = tree["roots"]
    assert root["name"] == "agent" and root["parent_span_id"] is None
    assert [c["name"] for c in root["children"]] == ["llm", "tool"]
    llm = root["children"][0]
    assert llm["attributes"]["llm.model_name"] == "gpt-4o-mini"
    assert llm["kind"] == "LLM" and llm["children"] == []
    assert [(e["name"], e["score"], e["label"]) for e in llm["evaluations"]] == [
        ("correct", 1.0, "pass")
    ]
    assert root["evaluations"] == []

    orphan = http.get(api + f"/traces/{9:032x}").json()
    assert [r["name"] for r in orphan["roots"]] == ["late-child"]  # parent not arrived yet


def test_evaluation_validation_and_idempotent_ids(loaded: LiveServer, http: httpx.Client) -> None:
    url = loaded.url + "/api/v1/evaluations"
    span_id = f"{11:016x}"
    assert http.post(url, json={"span_id": span_id, "name": "x"}).status_code == 422
    assert http.post(url, json={"span_id": "XYZ", "name": "x", "score": 1}).status_code == 422
    missing = http.post(url, json={"span_id": "f" * 16, "name": "x", "score": 1})
    assert missing.status_code == 404
    body = {"span_id": span_id, "name": "tone", "label": "ok", "id": "client-1"}
    first = http.post(url, json=body)
    again = http.post(url, json={**body, "label": "changed"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # append-only: the stored one is kept
    listed = http.get(loaded.url + f"/api/v1/spans/{span_id}/evaluations").json()
    assert [e["id"] for e in listed["data"]] == ["client-1"]
    by_trace = http.get(loaded.url + f"/api/v1/traces/{1:032x}/evaluations").json()
    assert [e["id"] for e in by_trace["data"]] == ["client-1"]


def test_not_found_and_bad_parameters(loaded: LiveServer, http: httpx.Client) -> None:
    api = loaded.url + "/api/v1"
    assert http.get(api + f"/traces/{'e' * 32}").status_code == 404
    assert http.get(api + f"/spans/{'e' * 16}").status_code == 404
    assert http.get(api + "/traces/not-hex").status_code == 422
    assert http.get(api + "/traces", params={"project": "shop", "limit": 0}).status_code == 422
    assert http.get(api + "/spans", params={"after_seq": 2**64}).status_code == 422
    assert http.get(api + "/spans", params={"kind": "NOPE"}).status_code == 422
    assert http.get(api + "/traces").status_code == 400  # no project and no key


def test_remote_client_matches_embedded_client(loaded: LiveServer) -> None:
    with Client(loaded.store) as local, Client(url=loaded.url) as remote:
        helpful = Evaluation(
            id="e1", trace_id="", span_id=f"{22:016x}", project="", name="helpful", score=0.5
        )
        assert remote.store.write([], [helpful]).evaluations == 1
        assert remote.projects() == local.projects() == ["bank", "shop"]
        assert remote.traces("shop", limit=3) == local.traces("shop", limit=3)
        cursor = local.traces("shop", limit=3)[-1].start_ns
        assert remote.traces("shop", before=cursor) == local.traces("shop", before=cursor)

        for trace_id in (f"{2:032x}", f"{9:032x}"):
            r, embedded = remote.trace(trace_id), local.trace(trace_id)
            assert sorted(r.spans, key=lambda s: s.span_id) == sorted(
                embedded.spans, key=lambda s: s.span_id
            )
            assert [s.span_id for _, s in r.walk()] == [s.span_id for _, s in embedded.walk()]
        assert remote.span(f"{21:016x}") == local.span(f"{21:016x}")
        assert remote.spans(kind="LLM") == local.spans(kind="LLM")
        assert remote.spans("shop", limit=4, after_seq=2) == local.spans(
            "shop", limit=4, after_seq=2
        )
        assert remote.evaluations(trace_id=f"{2:032x}") == local.evaluations(trace_id=f"{2:032x}")
        assert [e.name for e in remote.evaluations(span_id=f"{22:016x}")] == ["helpful"]

        with pytest.raises(TraceNotFound):
            remote.trace("e" * 32)
        with pytest.raises(SpanNotFound):
            remote.span("e" * 16)
        with pytest.raises(ConfigurationError):
            remote.evaluations()
        with pytest.raises(StoreError):
            remote.verify()  # needs the file, not the API


def test_remote_client_with_keys(live_server: LiveServer, http: httpx.Client) -> None:
    _, key = live_server.keys.create("shop")
    headers = {**PROTOBUF, "Authorization": f"Bearer {key}"}
    assert http.post(live_server.traces_url, content=make_request(llm_trace(1)), headers=headers)
    with Client(url=live_server.url, api_key=key) as client:
        assert [t.trace_id for t in client.traces("shop")] == [f"{1:032x}"]
    wrong = Client(url=live_server.url, api_key="tj_wrong-key-000000000000")
    with wrong, pytest.raises(AuthenticationError):
        wrong.traces("shop")
    with Client(url=live_server.url, api_key=key) as client, pytest.raises(AuthenticationError):
        client.traces("bank")
    with pytest.raises(ConfigurationError):
        Client("x.db", url=live_server.url)
