"""``tracejudge task ...`` through Typer's CliRunner over a real SQLite file.

The spans are written to the store first (20 LLM spans whose output says "good" for even
numbers, "bad" for odd), so a ``contains(value='good')`` task has a known answer: 10 pass,
10 fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.evals.tasks.conftest import make_span
from typer.testing import CliRunner

from tracejudge.cli import app
from tracejudge.client import Client
from tracejudge.errors import ConfigurationError
from tracejudge.store import open_store
from tracejudge.task_cli import parse_evaluator_options

WIDE = {"COLUMNS": "250"}
GOOD = "contains(value='good')"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "tasks.db"
    store = open_store(path)
    try:
        store.write([make_span(n) for n in range(20)])
    finally:
        store.close()
    return str(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    return result.exit_code, result.output


def _create(db: str, name: str, *extra: str) -> str:
    code, out = run("task", "create", "--name", name, "--project", "shop", *extra, "--db", db)
    assert code == 0, out
    assert "created task" in out and name in out
    return out.split("created task ", 1)[1].split()[0]


def test_create_run_status_and_lifecycle(db: str) -> None:
    task_id = _create(db, "good", "-e", GOOD, "--mode", "historic", "--filter", 'kind == "LLM"')
    code, out = run("task", "list", "--db", db)
    assert code == 0 and task_id in out and "historic" in out and GOOD in out

    code, out = run("task", "run", "good", "--project", "shop", "--db", db)
    assert code == 0, out
    assert "20 evaluations written" in out
    assert "20/20" in out  # the progress bar finished
    assert "50%" in out  # pass rate of the evaluator: 10 of 20 say "good"
    with Client(db) as client:
        handle = client.task(task_id)
        assert handle.task.state == "done"
        assert handle.status().counts == {"scored": 20}

    code, out = run("task", "status", task_id, "--watch", "--outcomes", "3", "--db", db)
    assert code == 0, out
    assert "20/20" in out and "scored" in out and "Recent outcomes" in out
    assert "20 spans considered of 20 (100%)" in out

    code, out = run("task", "run", task_id, "--db", db)  # a historic run happens once
    assert code == 1 and "done" in out

    live = _create(db, "live", "-e", "json_valid")
    for action, word in (("pause", "paused"), ("resume", "resumed"), ("delete", "deleted")):
        code, out = run("task", action, live, "--db", db)
        assert code == 0 and f"{word} task {live}" in out, out
    code, out = run("task", "list", "--db", db)
    assert live not in out
    code, out = run("task", "list", "--all", "--db", db)
    assert live in out and "deleted" in out


def test_create_with_mappings_sampling_and_judge_settings(db: str) -> None:
    task_id = _create(
        db,
        "grounded",
        "-e",
        "groundedness",
        "-e",
        "latency_budget(max_ms=2000)",
        "--map",
        "groundedness:context=trace.documents",
        "--map",
        "groundedness:output=output",
        "--sample",
        "0.1",
        "--max-spans",
        "1000",
        "--judge-model",
        "judge-model",
        "--judge-url",
        "http://127.0.0.1:9/v1",
        "--judge-concurrency",
        "32",
    )
    with Client(db) as client:
        spec = client.task(task_id).task.spec
    assert spec.evaluators[0].inputs == {"context": "trace.documents", "output": "output"}
    assert spec.evaluators[1].inputs == {}
    assert (spec.sample, spec.max_spans, spec.mode) == (0.1, 1000, "continuous")
    assert (spec.judge.model, spec.judge.base_url, spec.judge.concurrency) == (
        "judge-model",
        "http://127.0.0.1:9/v1",
        32,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "no_such_evaluator"], "no_such_evaluator"),
        (["-e", "json_valid", "--filter", "kind ==="], "position"),
        (["-e", "json_valid", "--filter", "__import__('os')"], "__import__"),
        (["-e", "json_valid", "--map", "nonsense"], "INPUT=PATH"),
        (["-e", "json_valid", "--map", "other:output=output"], "no --evaluator 'other'"),
        (["-e", "json_valid", "--map", "colour=output"], "colour"),
        (["-e", "json_valid", "--start", "yesterday", "--mode", "historic"], "start"),
        (["-e", "json_valid", "--mode", "sometimes"], "mode"),
    ],
)
def test_bad_definitions_exit_1_with_one_line_and_store_nothing(
    db: str, args: list[str], message: str
) -> None:
    code, out = run("task", "create", "--name", "x", "--project", "shop", *args, "--db", db)
    assert code == 1
    assert out.startswith("Error: ") and message in out
    assert len(out.strip().splitlines()) <= 2  # one message (Rich may wrap a long one)
    with Client(db) as client:
        assert client.tasks() == []


def test_unknown_task_and_missing_db(db: str, tmp_path: Path) -> None:
    code, out = run("task", "status", "nope", "--db", db)
    assert code == 1 and out.startswith("Error: ") and "nope" in out
    code, out = run("task", "list", "--db", str(tmp_path / "missing.db"))
    assert code == 1 and "no tracejudge database" in out


TASKS_YAML = """\
- name: good-answers
  project: shop
  filter: kind == "LLM"
  mode: historic
  evaluators:
    - contains(value='good')
- name: fast
  evaluators:
    - name: latency_budget(max_ms=2000)
  sample: 0.5
"""


def test_apply_yaml_creates_updates_and_reports_unchanged(db: str, tmp_path: Path) -> None:
    file = tmp_path / "tasks.yaml"
    file.write_text(TASKS_YAML)
    code, out = run("task", "apply", str(file), "--project", "shop", "--db", db)
    assert code == 0, out
    assert out.count("created") == 2 and "good-answers" in out and "fast" in out

    code, out = run("task", "apply", str(file), "--project", "shop", "--db", db)
    assert code == 0 and out.count("unchanged") == 2, out

    file.write_text(TASKS_YAML.replace("sample: 0.5", "sample: 0.25"))
    code, out = run("task", "apply", str(file), "--project", "shop", "--db", db)
    assert code == 0 and "updated fast" in out and "v2" in out and "unchanged good-answers" in out
    with Client(db) as client:
        assert client.task("fast", "shop").task.spec.sample == 0.25
        assert client.task("good-answers", "shop").task.spec.mode == "historic"

    # One bad task: the file is rejected whole, naming the task; the good change is not applied.
    file.write_text(TASKS_YAML.replace("sample: 0.5", "sample: 0.75") + "  colour: red\n")
    code, out = run("task", "apply", str(file), "--project", "shop", "--db", db)
    assert code == 1 and "task 2 (fast)" in out and "colour" in out
    with Client(db) as client:
        assert client.task("fast", "shop").task.spec.sample == 0.25

    file.write_text("name: [unclosed")
    code, out = run("task", "apply", str(file), "--db", db)
    assert code == 1 and "not valid YAML" in out
    file.write_text("tasks:\n  - name: solo\n    project: shop\n    evaluators: json_valid\n")
    code, out = run("task", "apply", str(file), "--db", db)
    assert code == 0 and "created solo" in out


def test_parse_evaluator_options() -> None:
    assert parse_evaluator_options(["json_valid"], []) == ["json_valid"]
    assert parse_evaluator_options(["groundedness"], ["context=trace.documents"]) == [
        {"name": "groundedness", "map": {"context": "trace.documents"}}
    ]
    both = parse_evaluator_options(
        ["groundedness", "latency_budget(max_ms=5)"],
        ["groundedness:context=trace.documents", "latency_budget:latency_ms=latency_ms"],
    )
    assert both == [
        {"name": "groundedness", "map": {"context": "trace.documents"}},
        {"name": "latency_budget(max_ms=5)", "map": {"latency_ms": "latency_ms"}},
    ]
    with pytest.raises(ConfigurationError, match="INPUT=PATH"):
        parse_evaluator_options(["json_valid"], [":output=x"])


def test_serve_rejects_an_unknown_task_worker_kind(tmp_path: Path) -> None:
    code, out = run("serve", "--task-worker", "fiber", "--db", str(tmp_path / "s.db"))
    assert code == 1 and "--task-worker" in out and "thread or process" in out
