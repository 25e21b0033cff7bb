"""Eval tasks survive kill -9: a continuous task in the real ``tracejudge serve`` process
scores spans that arrive over OTLP within seconds; SIGKILL the server mid-run; after a
restart every LLM span is scored exactly once (no duplicate, none lost) and the cursor
resumes where the last committed batch left it (already scored spans are not judged again).

The judge is a real OpenAI-compatible server on 127.0.0.1 (in this process) that takes
40 ms a call, so the task is still working through the backlog when the kill lands. The
served app runs its worker as a child process: killing the server leaves it for up to a
second (it then notices and stops), which the exactly-once checks must survive too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.conftest import PROTOBUF, llm_trace, make_request, wait_for
from tests.server.test_crash import _free_port, _start_server

from tracejudge.testing import OpenAIServer

FIRST, SECOND = range(1, 161), range(161, 201)  # traces (3 spans each, one of them LLM)
VERDICT = json.dumps({"reasoning": "civil", "label": "pass", "score": 1.0})


def _task_rows(db: Path, task_id: str) -> dict[str, Any]:
    """What the file holds for the task: its evaluations and outcomes, read raw."""
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot: a worker may still be committing
        evals = conn.execute(
            "SELECT e.span_id, s.kind FROM evaluations e JOIN spans s ON s.span_id = e.span_id "
            "WHERE e.task_id = ?",
            (task_id,),
        ).fetchall()
        outcomes = dict(
            conn.execute(
                "SELECT outcome, COUNT(*) FROM eval_task_outcomes WHERE task_id = ? "
                "GROUP BY outcome",
                (task_id,),
            ).fetchall()
        )
        cursor = conn.execute("SELECT cursor FROM eval_tasks WHERE id = ?", (task_id,)).fetchone()
        llm = {r[0] for r in conn.execute("SELECT span_id FROM spans WHERE kind = 'LLM'")}
        max_seq = conn.execute("SELECT max(ingest_seq) FROM spans").fetchone()[0]
    finally:
        conn.close()
    return {
        "eval_spans": [r[0] for r in evals],
        "eval_kinds": {r[1] for r in evals},
        "outcomes": outcomes,
        "cursor": cursor[0],
        "llm": llm,
        "max_seq": max_seq,
    }


def _ingest(url: str, traces: range) -> None:
    with httpx.Client(timeout=30) as http:
        for start in range(traces.start, traces.stop, 20):
            spans = [s for t in range(start, min(start + 20, traces.stop)) for s in llm_trace(t)]
            r = http.post(url + "/v1/traces", content=make_request(spans), headers=PROTOBUF)
            assert r.status_code == 200, r.text


@pytest.mark.parametrize("worker", ["process", "thread"])
def test_sigkill_mid_task_scores_every_span_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: str
) -> None:
    monkeypatch.setenv("TRACEJUDGE_TASK_WORKER_PROCESS", str(worker == "process").lower())
    # The killed worker's lease on the task expires after this; the restarted server's
    # worker then takes the task over (a batch here takes ~5 s, well within it).
    monkeypatch.setenv("TRACEJUDGE_TASK_LEASE_S", "8")
    # Small batches: many commits, so the kill lands between some and inside one.
    monkeypatch.setenv("TRACEJUDGE_TASK_BATCH_SIZE", "48")
    db = tmp_path / "tasks-crash.db"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with OpenAIServer(lambda _request: VERDICT, model="judge", latency_s=0.04) as judge:
        server = _start_server(db, port)
        try:
            task = {
                "name": "polite-llm",
                "project": "shop",
                "filter": 'kind == "LLM"',
                "evaluators": ["toxicity"],
                "judge": {"model": "judge", "base_url": judge.base_url, "concurrency": 2},
            }
            r = httpx.post(url + "/api/v1/tasks", json=task, timeout=10)
            assert r.status_code == 201, r.text
            task_id = r.json()["id"]
            _ingest(url, FIRST)

            # Scored within seconds of arriving.
            assert wait_for(lambda: len(_task_rows(db, task_id)["eval_spans"]) >= 10, 10)

            os.kill(server.pid, signal.SIGKILL)
            server.wait(10)
            at_kill = _task_rows(db, task_id)
            scored_at_kill = len(at_kill["eval_spans"])
            assert 10 <= scored_at_kill < len(FIRST), "the kill should land mid-run"
            # Consistent on disk: one evaluation per scored outcome, none twice.
            assert at_kill["outcomes"].get("scored", 0) == scored_at_kill
            assert len(set(at_kill["eval_spans"])) == scored_at_kill
            assert 0 < at_kill["cursor"] < at_kill["max_seq"]
            judge.clear()

            server = _start_server(db, port)
            _ingest(url, SECOND)  # more spans arrive after the restart
            total = len(FIRST) + len(SECOND)
            assert wait_for(
                lambda: _task_rows(db, task_id)["outcomes"].get("scored", 0) == total, 60
            ), _task_rows(db, task_id)["outcomes"]
            status = httpx.get(f"{url}/api/v1/tasks/{task_id}", timeout=10).json()
        finally:
            server.kill()
            server.wait(10)

        after = _task_rows(db, task_id)
        # Exactly once: every LLM span has one evaluation of the task, nothing else has one.
        assert sorted(after["eval_spans"]) == sorted(after["llm"])
        assert after["eval_kinds"] == {"LLM"}
        assert after["outcomes"] == {"scored": total, "filtered": 2 * total}
        # The cursor resumed: no span scored before the kill was judged again (the judge's
        # prompts after the kill name none of their outputs).
        prompts = [json.dumps(r.json) for r in judge.requests]
        for span_id in at_kill["eval_spans"]:
            output = re.compile(rf"\ba{(int(span_id, 16) - 2) // 10}\b")  # llm_trace's output
            assert not any(output.search(p) for p in prompts), span_id
        assert after["cursor"] == after["max_seq"] == status["cursor"]
        assert status["counts"] == {"scored": total, "filtered": 2 * total}
        assert status["evaluators"][0]["passed"] == total


def _children(pid: int) -> list[int]:
    """Children started by any of ``pid``'s threads (procfs lists them per thread)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    return [d for c in _children(pid) for d in (c, *_descendants(c))]


def test_no_process_of_a_killed_server_outlives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of ``serve``: its task worker, the decode workers, their forkserver and
    multiprocessing's resource tracker all end too."""
    monkeypatch.setenv("TRACEJUDGE_TASK_WORKER_PROCESS", "true")
    server = _start_server(tmp_path / "orphan.db", _free_port())
    try:
        # Ready means all of them run: the task worker and 2+ decode workers (grandchildren).
        assert wait_for(lambda: len(_descendants(server.pid)) >= 5, 10)
        processes = _descendants(server.pid)
        command_lines = b" ".join(Path(f"/proc/{p}/cmdline").read_bytes() for p in processes)
        assert b"spawn" in command_lines and b"forkserver" in command_lines
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        assert wait_for(lambda: not any(_running(p) for p in processes), 15), [
            p for p in processes if _running(p)
        ]
    finally:
        server.kill()
        server.wait(10)
