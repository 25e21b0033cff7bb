"""``Client(url=..., api_key=...)``'s task methods and ``tracejudge task ... --url`` against a
real server: the same records and errors as the embedded store, scoped to the key's project."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.server.conftest import PROTOBUF, LiveServer, llm_trace, make_request, wait_for
from typer.testing import CliRunner

from tracejudge.cli import app
from tracejudge.client import Client
from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound
from tracejudge.remote import AuthenticationError
from tracejudge.remote_tasks import status_from_json, status_to_json

TASK = {
    "name": "llm-latency",
    "project": "shop",
    "filter": 'kind == "LLM"',
    "evaluators": [{"name": "latency_budget(max_ms=2000)"}],
    "sample": 0.5,
    "mode": "continuous",
}


def test_remote_task_methods(live_server: LiveServer, http: httpx.Client) -> None:
    _, key = live_server.keys.create("shop")
    _, other_key = live_server.keys.create("other")
    with Client(url=live_server.url, api_key=key) as client:
        handle = client.create_task(TASK)
        assert handle.task.spec.sample == 0.5 and handle.task.state == "active"
        assert [t.id for t in client.tasks()] == [handle.id]
        assert client.task("llm-latency").id == handle.id

        with pytest.raises(ConfigurationError, match="already has a task"):
            client.create_task(TASK)
        with pytest.raises(FilterSyntaxError) as bad:
            client.create_task({**TASK, "name": "x", "filter": 'kind == "LLM" and'})
        assert bad.value.position >= 1
        with pytest.raises(ConfigurationError, match="no_such"):
            client.create_task({**TASK, "name": "y", "evaluators": ["no_such"]})
        with pytest.raises(NotFound):
            client.task("nope")
        with pytest.raises(AuthenticationError):
            client.create_task({**TASK, "project": "other"})

        spans = [s for t in range(1, 21) for s in llm_trace(t)]
        auth = {"Authorization": f"Bearer {key}"}
        r = http.post(
            live_server.traces_url, content=make_request(spans), headers={**PROTOBUF, **auth}
        )
        assert r.status_code == 200
        assert wait_for(lambda: handle.status().considered == 60, timeout=15)
        status = handle.status()
        assert status.counts["filtered"] == 40
        assert status.counts["scored"] + status.counts["sampled_out"] == 20
        assert status_from_json(status_to_json(status)) == status  # the JSON round trip
        scored = handle.outcomes(outcome="scored", limit=100)
        assert len(scored) == status.counts["scored"]
        evals = client.evaluations(span_id=scored[0].span_id)
        assert [e.task_id for e in evals] == [handle.id]

        assert handle.pause().state == "paused"
        assert handle.resume().state == "active"
        updated, result = client.apply_task({**TASK, "sample": 0.25})
        assert (updated.id, updated.task.version, result) == (handle.id, 2, "updated")
        assert client.apply_task({**TASK, "sample": 0.25})[1] == "unchanged"
        with pytest.raises(ConfigurationError, match="embedded"):
            handle.run()  # the server runs its tasks
        assert handle.delete().state == "deleted"
        assert client.tasks() == []

    with Client(url=live_server.url, api_key=other_key) as other:
        assert other.tasks() == []
        with pytest.raises(NotFound):
            other.task(handle.id)


def test_task_cli_against_a_server(live_server: LiveServer, tmp_path: Path) -> None:
    _, key = live_server.keys.create("shop")
    remote = ["--url", live_server.url, "--api-key", key]
    file = tmp_path / "tasks.yaml"
    file.write_text(
        "- name: fast\n  evaluators: ['latency_budget(max_ms=2000)']\n"
        '- name: json\n  filter: kind == "LLM"\n  evaluators: [json_valid]\n'
    )
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
        return result.exit_code, result.output

    code, out = run("task", "apply", str(file), "--project", "shop", *remote)
    assert code == 0 and out.count("created") == 2, out
    code, out = run("task", "list", *remote)
    assert code == 0 and "fast" in out and "json" in out
    code, out = run("task", "pause", "fast", *remote)
    assert code == 0 and "paused task" in out
    code, out = run("task", "status", "fast", *remote)
    assert code == 0 and "paused" in out
    code, out = run("task", "list", "--url", live_server.url)  # no key: the server says 401
    assert code == 1 and "401" in out
    code, out = run("task", "list", "--db", str(tmp_path / "x.db"), *remote)
    assert code == 1 and "not both" in out
