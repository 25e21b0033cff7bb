"""The Python API: Client.create_task / tasks / task / apply_task and TaskHandle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracejudge import Client
from tracejudge.errors import ConfigurationError, FilterSyntaxError, NotFound
from tracejudge.evals.tasks import TaskSpec

from .conftest import make_span


def test_client_task_lifecycle(db_path: Path) -> None:
    with Client(db_path) as client:
        client.store.write([make_span(n) for n in range(12)])
        handle = client.create_task(
            name="json", project="shop", mode="historic", evaluators=["contains(value='good')"]
        )
        assert handle.task.state == "active" and handle.task.version == 1
        assert [t.id for t in client.tasks("shop")] == [handle.id]
        assert client.tasks("other") == []

        report = handle.run()
        assert report.evaluations_written == 12 and report.done
        assert handle.task.state == "done"
        status = handle.status()
        assert status.counts == {"scored": 12} and status.progress == 1.0
        (summary,) = status.evaluators
        assert (summary.passed, summary.failed, summary.pass_rate) == (6, 6, 0.5)
        rows = handle.outcomes(span_id=make_span(3).span_id)
        assert [(r.outcome, r.attempts) for r in rows] == [("scored", 1)]
        assert len(handle.outcomes(limit=5)) == 5
        assert len(handle.outcomes(outcome="scored", limit=100)) == 12

        same = client.task("json", "shop")
        assert same.id == handle.id
        assert same.pause().state == "paused" and same.resume().state == "active"
        assert handle.delete().state == "deleted"
        assert client.tasks() == []
        with pytest.raises(NotFound):
            client.task("json")


def test_apply_task_from_a_mapping_and_bad_input(db_path: Path) -> None:
    with Client(db_path) as client:
        data = {"name": "live", "project": "shop", "evaluators": ["json_valid"]}
        handle, result = client.apply_task(data)
        assert result == "created"
        assert client.apply_task(TaskSpec.from_dict(data))[1] == "unchanged"
        handle2, result = client.apply_task({**data, "sample": 0.25})
        assert (result, handle2.id, handle2.task.version) == ("updated", handle.id, 2)

        with pytest.raises(FilterSyntaxError, match="position"):
            client.create_task(
                name="x", project="shop", evaluators=["json_valid"], filter="kind =="
            )
        with pytest.raises(ConfigurationError, match="not both"):
            client.create_task(data, name="y")
        with pytest.raises(ConfigurationError, match="unknown key"):
            client.create_task(nme="x")
        assert [t.spec.name for t in client.tasks()] == ["live"]
