"""``tracejudge demo`` applies and runs its two eval tasks over the stored demo traces.

Real offline demo model (as the judge too), real SQLite file; the expected sample is
computed here from the hash rule, independently of the runner.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from tracejudge.cli import app
from tracejudge.client import Client
from tracejudge.demo import run_demo
from tracejudge.demo.tasks import CODE_TASK, GROUNDEDNESS_NOTE, GROUNDEDNESS_TASK


def _in_half_sample(span_id: str) -> bool:
    return int.from_bytes(hashlib.sha256(span_id.encode()).digest()[:8], "big") / 2**64 < 0.5


def test_demo_runs_a_groundedness_and_a_code_task(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run = run_demo(db, questions=4, env={})
    assert [s.task.spec.name for s in run.tasks] == [GROUNDEDNESS_TASK, CODE_TASK]
    grounded, latency = run.tasks
    assert grounded.counts["scored"] == 4  # one AGENT span per question
    assert grounded.task.state == "paused"  # its judge (the offline model) is gone
    assert latency.task.state == "active"

    with Client(db) as client:
        llm = [s.span_id for s in client.spans("demo", kind="LLM", limit=1000)]
        agents = {s.span_id for s in client.spans("demo", kind="AGENT", limit=1000)}
        expected = {s for s in llm if _in_half_sample(s)}
        assert latency.counts.get("scored", 0) == len(expected)
        assert latency.counts.get("sampled_out", 0) == len(llm) - len(expected)
        scored = client.task(CODE_TASK, "demo").outcomes(outcome="scored", limit=1000)
        assert {o.span_id for o in scored} == expected
        task_evals = [
            e
            for span_id in agents
            for e in client.evaluations(span_id=span_id)
            if e.task_id == grounded.task.id
        ]
        assert len(task_evals) == 4 and {e.source for e in task_evals} == {"task"}
        assert all(e.name == "groundedness" and e.label in ("pass", "fail") for e in task_evals)

    # Again: the tasks are re-applied (the judge moved to a new port: a new version) and
    # score only the new traces.
    again = run_demo(db, questions=2, env={})
    grounded2, latency2 = again.tasks
    assert grounded2.task.id == grounded.task.id and grounded2.task.version == 2
    assert grounded2.counts["scored"] == 6
    assert latency2.task.id == latency.task.id and latency2.task.version == 1
    with Client(db) as client:
        ids = [
            e.id
            for t in client.traces("demo", limit=100)
            for e in client.evaluations(trace_id=t.trace_id)
            if e.task_id is not None
        ]
    assert len(ids) == len(set(ids)) == 6 + latency2.counts["scored"]


def test_demo_command_prints_the_task_outcomes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--questions", "2", "--db", str(tmp_path / "d.db")],
        env={"COLUMNS": "80", "OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""},
    )
    assert result.exit_code == 0, result.output
    assert "Eval tasks over the stored traces" in result.output
    lines = result.output.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("Eval tasks over"))) + 1 :]
    table = table[: next(i for i, x in enumerate(table) if x.startswith("└")) + 1]
    assert all(len(x) <= 80 for x in table), "\n".join(table)
    header = table[1]
    for column in ("task", "scored", "filtered", "sampled out", "failed", "pass rate"):
        assert f" {column} " in header
    rows = {x.split("│")[1].strip(): x for x in table[3:-1]}
    assert set(rows) == {GROUNDEDNESS_TASK, CODE_TASK}  # names whole, not folded
    assert f'  {GROUNDEDNESS_TASK}: filter kind == "AGENT" -> groundedness (paused)' in lines
    assert GROUNDEDNESS_NOTE in lines  # one line, right under the table and its notes
    assert "tracejudge task list --project demo" in result.output
