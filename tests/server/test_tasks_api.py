"""``/api/v1/tasks`` against a real server: create/list/status/outcomes/pause/resume/delete,
400s naming what is wrong, project scoping by API key, and the server's task worker
scoring spans that arrive over OTLP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from tests.server.conftest import (
    PROTOBUF,
    LiveServer,
    llm_trace,
    make_request,
    run_server,
    wait_for,
)

from tracejudge.server.settings import Settings
from tracejudge.server.task_worker import task_worker
from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.tasks import SQLiteTaskStore

LATENCY = "latency_budget(max_ms=2000)"
LLM_TASK: dict[str, Any] = {
    "name": "llm-latency",
    "project": "shop",
    "filter": 'kind == "LLM"',
    "evaluators": [LATENCY],
}


def _api(server: LiveServer) -> str:
    return server.url + "/api/v1/tasks"


def _ingest(http: httpx.Client, server: LiveServer, traces: range, **headers: str) -> None:
    spans = [s for t in traces for s in llm_trace(t)]
    r = http.post(server.traces_url, content=make_request(spans), headers={**PROTOBUF, **headers})
    assert r.status_code == 200, r.text


def _status(http: httpx.Client, server: LiveServer, task_id: str, **headers: str) -> Any:
    r = http.get(f"{_api(server)}/{task_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_task_lifecycle(live_server: LiveServer, http: httpx.Client) -> None:
    r = http.post(_api(live_server), json=LLM_TASK)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["state"] == "active" and task["version"] == 1
    spec = task["spec"]
    assert spec["evaluators"] == [{"name": LATENCY, "map": {}}]
    assert (spec["mode"], spec["sample"], spec["filter"]) == ("continuous", 1.0, 'kind == "LLM"')

    listed = http.get(_api(live_server), params={"project": "shop"}).json()
    assert [t["id"] for t in listed["data"]] == [task["id"]] and listed["count"] == 1
    assert http.get(_api(live_server), params={"project": "other"}).json()["count"] == 0

    status = _status(http, live_server, task["id"])
    assert status["task"]["id"] == task["id"]
    assert status["total"] is None and status["progress"] is None  # continuous
    # By name too.
    assert _status(http, live_server, "llm-latency")["task"]["id"] == task["id"]

    for action, state in (("pause", "paused"), ("resume", "active")):
        r = http.post(f"{_api(live_server)}/{task['id']}/{action}")
        assert r.status_code == 200 and r.json()["state"] == state
    r = http.delete(f"{_api(live_server)}/{task['id']}")
    assert r.status_code == 200 and r.json()["state"] == "deleted"
    assert http.get(_api(live_server)).json()["count"] == 0
    assert http.get(_api(live_server), params={"include_deleted": True}).json()["count"] == 1
    assert http.post(f"{_api(live_server)}/{task['id']}/resume").status_code == 409
    assert http.get(f"{_api(live_server)}/nope").status_code == 404
    # The name is free again once the task is deleted.
    assert http.post(_api(live_server), json=LLM_TASK).status_code == 201


def test_bad_definitions_are_rejected_with_the_reason(
    live_server: LiveServer, http: httpx.Client
) -> None:
    def post(**changes: Any) -> httpx.Response:
        return http.post(_api(live_server), json={**LLM_TASK, **changes})

    r = post(filter='kind == "LLM" and __import__("os")')
    assert r.status_code == 400
    assert r.json()["position"] >= 1 and "__import__" in r.json()["detail"]
    r = post(evaluators=["no_such_evaluator"])
    assert r.status_code == 400 and "no_such_evaluator" in r.json()["detail"]
    r = post(evaluators=[{"name": "json_valid", "map": {"nonsense": "output"}}])
    assert r.status_code == 400 and "nonsense" in r.json()["detail"]
    r = post(mode="historic", start="not a time")
    assert r.status_code == 400 and "start" in r.json()["detail"]
    assert post(colour="red").status_code == 422  # unknown field
    assert post(sample=2).status_code == 422
    r = post(max_spans=2**64)
    assert r.status_code == 400 and "max_spans" in r.json()["detail"]
    r = http.post(_api(live_server), json={k: v for k, v in LLM_TASK.items() if k != "project"})
    assert r.status_code == 400 and "project" in r.json()["detail"]
    assert http.get(_api(live_server)).json()["count"] == 0  # nothing was stored
    assert post().status_code == 201
    r = post()
    assert r.status_code == 409 and "llm-latency" in r.json()["detail"]


def test_apply_creates_updates_or_leaves_unchanged(
    live_server: LiveServer, http: httpx.Client
) -> None:
    url = _api(live_server)
    first = http.put(url, json=LLM_TASK).json()
    assert first["result"] == "created"
    again = http.put(url, json=LLM_TASK).json()
    assert again["result"] == "unchanged" and again["task"]["version"] == 1
    changed = http.put(url, json={**LLM_TASK, "sample": 0.5}).json()
    assert changed["result"] == "updated"
    assert changed["task"]["id"] == first["task"]["id"] and changed["task"]["version"] == 2
    assert changed["task"]["spec"]["sample"] == 0.5


def test_a_key_only_sees_its_own_projects_tasks(
    live_server: LiveServer, http: httpx.Client
) -> None:
    _, shop_key = live_server.keys.create("shop")
    _, other_key = live_server.keys.create("other")
    shop = {"Authorization": f"Bearer {shop_key}"}
    other = {"Authorization": f"Bearer {other_key}"}
    body = {k: v for k, v in LLM_TASK.items() if k != "project"}  # the key's project
    r = http.post(_api(live_server), json=body, headers=shop)
    assert r.status_code == 201 and r.json()["spec"]["project"] == "shop"
    task_id = r.json()["id"]

    assert http.get(_api(live_server)).status_code == 401
    assert http.post(_api(live_server), json=LLM_TASK, headers=other).status_code == 403
    assert http.get(_api(live_server), headers=other).json()["count"] == 0
    assert http.get(_api(live_server), params={"project": "shop"}, headers=other).status_code == 403
    for path in (task_id, f"{task_id}/outcomes", "llm-latency"):
        assert http.get(f"{_api(live_server)}/{path}", headers=other).status_code == 404
    assert http.post(f"{_api(live_server)}/{task_id}/pause", headers=other).status_code == 404
    assert http.delete(f"{_api(live_server)}/{task_id}", headers=other).status_code == 404
    assert _status(http, live_server, task_id, **shop)["task"]["state"] == "active"
    assert http.get(_api(live_server), headers=shop).json()["count"] == 1


def test_server_worker_scores_spans_arriving_over_otlp(
    live_server: LiveServer, http: httpx.Client
) -> None:
    task_id = http.post(_api(live_server), json=LLM_TASK).json()["id"]
    _ingest(http, live_server, range(1, 6))  # 5 traces: 5 LLM spans, 10 others

    def scored() -> int:
        counts = _status(http, live_server, task_id)["counts"]
        return int(counts.get("scored", 0))

    assert wait_for(lambda: scored() == 5, timeout=15), _status(http, live_server, task_id)
    assert wait_for(
        lambda: _status(http, live_server, task_id)["counts"].get("filtered") == 10, timeout=10
    )
    status = _status(http, live_server, task_id)
    assert status["evaluators"][0]["name"] == LATENCY
    assert status["evaluators"][0]["passed"] == 5 and status["evaluators"][0]["pass_rate"] == 1.0

    rows = http.get(f"{_api(live_server)}/{task_id}/outcomes", params={"outcome": "scored"}).json()
    assert rows["count"] == 5
    for row in rows["data"]:
        evals = http.get(f"{live_server.url}/api/v1/spans/{row['span_id']}/evaluations").json()
        ours = [e for e in evals["data"] if e["task_id"] == task_id]
        assert len(ours) == 1 and ours[0]["source"] == "task"
        assert ours[0]["id"] == row["evaluation_id"] and ours[0]["label"] == "pass"
    one = rows["data"][0]["span_id"]
    by_span = http.get(f"{_api(live_server)}/{task_id}/outcomes", params={"span_id": one}).json()
    assert [r["span_id"] for r in by_span["data"]] == [one]
    assert http.get(f"{_api(live_server)}/{task_id}/outcomes?outcome=bogus").status_code == 422


def test_no_task_worker_setting_leaves_tasks_to_task_run(tmp_path: Path) -> None:
    store = open_store(tmp_path / "quiet.db")
    try:
        with run_server(store, Settings(task_worker=False)) as url, httpx.Client() as http:
            task_id = http.post(url + "/api/v1/tasks", json=LLM_TASK).json()["id"]
            spans = llm_trace(1)
            r = http.post(url + "/v1/traces", content=make_request(spans), headers=PROTOBUF)
            assert r.status_code == 200
            assert not wait_for(
                lambda: http.get(f"{url}/api/v1/tasks/{task_id}").json()["considered"] > 0,
                timeout=1.5,
            )
    finally:
        store.close()


def test_with_keys_a_task_judge_url_must_be_allowed(tmp_path: Path) -> None:
    """The worker sends its judge key to judge.base_url: key holders may only name the
    endpoints the server allows (an open, local server takes any)."""
    judge = {"model": "m", "base_url": "http://127.0.0.1:9/v1"}
    task = {**LLM_TASK, "evaluators": ["toxicity"], "judge": judge}
    store = open_store(tmp_path / "judges.db")
    try:
        allowed = Settings(
            task_worker=False, task_judge_urls="http://judge.internal/, http://127.0.0.1:9/"
        )
        with run_server(store, Settings(task_worker=False)) as url, httpx.Client() as http:
            assert http.post(url + "/api/v1/tasks", json=task).status_code == 201  # no keys yet
            _, key = SQLiteKeyStore(tmp_path / "judges.db").create("shop")
            auth = {"Authorization": f"Bearer {key}"}
            r = http.put(url + "/api/v1/tasks", json={**task, "name": "k"}, headers=auth)
            assert r.status_code == 403 and "TRACEJUDGE_TASK_JUDGE_URLS" in r.json()["detail"]
            no_url = {**task, "name": "k", "judge": {"model": "m"}}
            assert http.post(url + "/api/v1/tasks", json=no_url, headers=auth).status_code == 201
        with run_server(store, allowed) as url, httpx.Client() as http:
            r = http.post(url + "/api/v1/tasks", json={**task, "name": "k2"}, headers=auth)
            assert r.status_code == 201, r.text
            evil = {**task, "name": "k3", "judge": {"base_url": "http://evil.example/v1"}}
            assert http.post(url + "/api/v1/tasks", json=evil, headers=auth).status_code == 403
    finally:
        store.close()


def test_worker_in_a_child_process_scores_too(tmp_path: Path) -> None:
    store = open_store(tmp_path / "child.db")
    try:
        settings = Settings(task_worker_process=True, task_poll_interval_s=0.1)
        with run_server(store, settings) as url, httpx.Client() as http:
            task_id = http.post(url + "/api/v1/tasks", json=LLM_TASK).json()["id"]
            spans = [s for t in range(1, 4) for s in llm_trace(t)]
            r = http.post(url + "/v1/traces", content=make_request(spans), headers=PROTOBUF)
            assert r.status_code == 200
            assert wait_for(
                lambda: (
                    http.get(f"{url}/api/v1/tasks/{task_id}").json()["counts"]
                    == {"scored": 3, "filtered": 6}
                ),
                timeout=30,
            )
    finally:
        store.close()


def test_the_worker_process_is_up_before_the_server_takes_requests(tmp_path: Path) -> None:
    """The lifespan waits for the child's start-up (imports, runner) instead of letting
    it compete with the first requests for the CPU."""
    store = open_store(tmp_path / "ready.db")

    async def started() -> tuple[bool, bool]:
        settings = Settings(task_worker_process=True)
        async with task_worker(store, SQLiteTaskStore(store.path), settings) as process:
            return process._tracejudge_ready.is_set(), process.is_alive()

    try:
        assert asyncio.run(started()) == (True, True)
    finally:
        store.close()
